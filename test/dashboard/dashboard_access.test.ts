// Issue 13, point 4 (security): who may load the dashboard and use its API, over plain HTTP.
import { request } from 'undici';
import { describe, expect } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/dashboard/page-assets.js';
import { dashboardCall, visitPage } from '../support/dashboard.js';
import { it } from '../support/pool.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const COOKIE_SET = /^ccb_dashboard=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/;

describe('the dashboard page', () => {
  it('is served with a strict CSP, never framed, with a cookie only scripts cannot read', async ({ startPool }) => {
    const pool = await startPool();
    const page = await visitPage(pool.svc.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['set-cookie']).toMatch(COOKIE_SET);
    expect(page.csrf).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    // No inline script: every script comes from the service's own files.
    expect(page.html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    // A browser that already has a cookie keeps it; each page gets a new CSRF token.
    const again = await visitPage(pool.svc.url, { cookie: page.cookie! });
    expect(again.headers['set-cookie']).toBeUndefined();
    expect(again.csrf).not.toBe(page.csrf);
  });

  it('keeps answering clients that are not browsers (Claude Code probes /) with JSON', async ({ startPool }) => {
    const pool = await startPool();
    const res = await request(`${pool.svc.url}/`);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(await res.body.json()).toEqual({ service: 'claude-code-balancer', status: 'ok' });
  });

  it('serves its own files only, from the package', async ({ startPool }) => {
    const pool = await startPool();
    const js = await request(`${pool.svc.url}/dashboard/assets/app.js`);
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(await js.body.text()).toContain("from './api.js'");
    for (const path of ['/dashboard/assets/index.html', '/dashboard/assets/nothing.js']) {
      const res = await request(`${pool.svc.url}${path}`);
      expect(res.statusCode, path).toBe(404);
      await res.body.dump();
    }
    // A traversal never reaches the file server: the request target rule refuses it on every route (#10.4).
    const traversal = await request(`${pool.svc.url}/dashboard/assets/..%2F..%2Fpackage.json`);
    expect(traversal.statusCode).toBe(400);
    expect(await traversal.body.text()).not.toContain('claude-code-balancer');
  });

  it('refuses a name that is not this machine (DNS rebinding), for the page and the API', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    const port = new URL(pool.svc.url).port;
    const rebound = await visitPage(pool.svc.url, { host: `attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.csrf).toBeUndefined();
    const page = await visitPage(pool.svc.url);
    const api = await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', {
      cookie: page.cookie, csrf: page.csrf, headers: { host: `attacker.example:${port}` },
    });
    expect(api.status).toBe(403);
    expect(api.text).not.toContain('alice@example.com');
  });
});

describe('the dashboard API without an admin token', () => {
  it('answers its own page: the overview with the CSRF token', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    const page = await visitPage(pool.svc.url);
    const res = await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie: page.cookie, csrf: page.csrf });
    expect(res.status).toBe(200);
    expect(res.json.health).toEqual({ status: 'ok', usable: 1, total: 1, next_reset: null });
    expect(res.json.accounts.map((a: { account_email: string }) => a.account_email)).toEqual(['alice@example.com']);
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    const account = pool.account('alice@example.com').record;
    expect(res.text).not.toContain(account.access_token);
    expect(res.text).not.toContain(account.refresh_token!);
  });

  it('refuses a call without the page\'s CSRF token, or with another browser\'s, and changes nothing', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    const page = await visitPage(pool.svc.url);
    const other = await visitPage(pool.svc.url);
    const path = '/dashboard/api/oauth/tokens/alice@example.com';
    for (const csrf of [undefined, other.csrf, 'x.y', `${page.csrf}x`]) {
      const res = await dashboardCall(pool.svc.url, 'DELETE', path, { cookie: page.cookie, csrf });
      expect(res.status, String(csrf)).toBe(403);
      expect(res.json.error).toBe('csrf_refused');
    }
    const noCookie = await dashboardCall(pool.svc.url, 'DELETE', path, { csrf: page.csrf });
    expect(noCookie.status).toBe(403);
    expect(pool.svc.service.oauth.pool.list()).toHaveLength(1);

    const ok = await dashboardCall(pool.svc.url, 'DELETE', path, { cookie: page.cookie, csrf: page.csrf });
    expect(ok.status).toBe(200);
    expect(pool.svc.service.oauth.pool.list()).toHaveLength(0);
  });

  it('refuses a change whose Origin is not this host, and a request another site started', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    const page = await visitPage(pool.svc.url);
    const path = '/dashboard/api/oauth/tokens/alice@example.com';
    const port = new URL(pool.svc.url).port;
    for (const origin of [null, 'http://evil.example', `http://localhost:${port}`, 'null']) {
      const res = await dashboardCall(pool.svc.url, 'DELETE', path, { cookie: page.cookie, csrf: page.csrf, origin });
      expect(res.status, String(origin)).toBe(403);
    }
    const crossSite = await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', {
      cookie: page.cookie, csrf: page.csrf, headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const events = await dashboardCall(pool.svc.url, 'GET', '/dashboard/events', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(events.status).toBe(403);
    expect(pool.svc.service.oauth.pool.list()).toHaveLength(1);
  });
});

describe('the dashboard with settings.admin_token', () => {
  it('asks for the token once, then keeps a session in the cookie; the token and cookie never reach the log', async ({ startPool }) => {
    const pool = await startPool({ settings: { admin_token: ADMIN_TOKEN } });
    const page = await visitPage(pool.svc.url);
    expect(page.status).toBe(200);
    const before = await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie: page.cookie, csrf: page.csrf });
    expect(before.status).toBe(401);
    expect(before.json.error).toBe('sign_in_required');

    const wrong = await dashboardCall(pool.svc.url, 'POST', '/dashboard/session', { cookie: page.cookie, csrf: page.csrf, body: { token: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.message).toBe('That is not the admin token (settings.admin_token).');
    const noCsrf = await dashboardCall(pool.svc.url, 'POST', '/dashboard/session', { cookie: page.cookie, body: { token: ADMIN_TOKEN } });
    expect(noCsrf.status).toBe(403);

    const signIn = await dashboardCall(pool.svc.url, 'POST', '/dashboard/session', { cookie: page.cookie, csrf: page.csrf, body: { token: ADMIN_TOKEN } });
    expect(signIn.status).toBe(200);
    expect(signIn.headers['set-cookie']).toMatch(COOKIE_SET);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0];
    expect(cookie).not.toBe(page.cookie);
    const overview = await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie, csrf: signIn.json.csrf });
    expect(overview.status).toBe(200);
    expect(overview.json.admin_token).toBe(true);
    // The id from before signing in is worth nothing (no session fixation).
    expect((await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie: page.cookie, csrf: page.csrf })).status).toBe(401);
    // A new page of the signed-in browser works with its own CSRF token.
    const later = await visitPage(pool.svc.url, { cookie });
    expect((await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie, csrf: later.csrf })).status).toBe(200);

    const logs = pool.svc.logs.join('');
    expect(logs).toContain('dashboard signed in');
    expect(logs).not.toContain(ADMIN_TOKEN);
    expect(logs).not.toContain(cookie.split('=')[1]);
    expect(logs).not.toContain(page.cookie!.split('=')[1]);
  });

  it('signs every browser out when the admin token changes, and on sign-out', async ({ startPool }) => {
    const pool = await startPool({ settings: { admin_token: ADMIN_TOKEN } });
    const page = await visitPage(pool.svc.url);
    const signIn = await dashboardCall(pool.svc.url, 'POST', '/dashboard/session', { cookie: page.cookie, csrf: page.csrf, body: { token: ADMIN_TOKEN } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0];
    const csrf = signIn.json.csrf;
    expect((await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie, csrf })).status).toBe(200);
    pool.svc.service.config.settings.admin_token = 'another-admin-token-000000';
    expect((await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie, csrf })).status).toBe(401);

    pool.svc.service.config.settings.admin_token = ADMIN_TOKEN;
    const again = await dashboardCall(pool.svc.url, 'POST', '/dashboard/session', { cookie, csrf, body: { token: ADMIN_TOKEN } });
    const cookie2 = String(again.headers['set-cookie']).split(';')[0];
    expect((await dashboardCall(pool.svc.url, 'DELETE', '/dashboard/session', { cookie: cookie2, csrf: again.json.csrf })).status).toBe(200);
    expect((await dashboardCall(pool.svc.url, 'GET', '/dashboard/api/overview', { cookie: cookie2, csrf: again.json.csrf })).status).toBe(401);
  });
});
