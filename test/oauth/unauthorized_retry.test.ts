// Issue 3, 401 handling: one forced refresh and one retry on the same account; needs_login only on the token endpoint's word
// and failover; and the 401 + banner when no account can serve.
import { afterEach, describe, expect } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider } from '../support/harness.js';
import { it, fakeClock, MINUTE, postMessage, type Pool } from '../support/pool.js';

let other: FakeAnthropic | undefined;
afterEach(async () => {
  await other?.close();
  other = undefined;
});

const LOGIN_URL = /(https?:\/\/\S+\/oauth\/authorize\?\S+)/;

describe('an upstream 401 on an oauth account', () => {
  it('refreshes once and retries the same request on the same account: the client sees 200', async ({ startPool }) => {
    const pool = await startPool({ oauth: { strategy: 'round_robin' }, accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth, upstream } = pool;
    const alice = pool.account('alice@example.com');
    const revoked = alice.record.access_token;
    oauth.revokeAccessTokens('alice@example.com');

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('alice@example.com');
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${revoked}`,
      `Bearer ${alice.record.access_token}`,
    ]);
    expect(upstream.requests[1].body.equals(upstream.requests[0].body)).toBe(true);
    expect(pool!.state(alice)).toBe('active');
    expect(oauth.refreshCallsFor('bob@example.com')).toBe(0);
  });

  it('when the retry right after a successful refresh is refused too: a short cooldown, then tried again (regression)', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { strategy: 'round_robin' }, accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth, upstream } = pool;
    upstream.script({ kind: 'json', status: 401 }, { kind: 'json', status: 401 });

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('bob@example.com');
    expect(upstream.requests).toHaveLength(3);
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
    // The refresh just proved the refresh token works: no lost login, only a pause.
    const alice = pool.account('alice@example.com');
    expect(alice.availability(clock.now())).toEqual({
      state: 'cooling_down',
      reason: 'upstream 401: invalid x-api-key (right after a refresh)',
      until: clock.now() + 30_000,
    });
    expect(alice.record.verdict).toBeNull();
    expect((await pool.store.load()).find((r) => r.email === 'alice@example.com')!.verdict).toBeNull();

    // Out of rotation while it cools down.
    for (let i = 0; i < 3; i++) expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('bob@example.com');
    // Then tried again, with a new token, and it serves.
    await clock.advance(30_000);
    const served = new Set<string>();
    for (let i = 0; i < 2; i++) served.add(String((await postMessage(pool.svc.url)).headers['x-balancer-account']));
    expect(served).toEqual(new Set(['alice@example.com', 'bob@example.com']));
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(2);
    expect(pool.state(alice)).toBe('active');
  });

  it('with a dead refresh token: reauth_required and failover, the client sees 200', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth } = pool;
    oauth.revokeAccessTokens('alice@example.com');
    oauth.revokeRefreshToken('alice@example.com');

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('bob@example.com');
    expect(pool.state('alice@example.com')).toBe('needs_login');
    expect(pool.account('alice@example.com').record.verdict).toMatchObject({ state: 'needs_login', reason: expect.stringMatching(/invalid_grant/) });
  });

  it('keeps the account when the refresh after the 401 fails only transiently', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth } = pool;
    oauth.revokeAccessTokens('alice@example.com');
    oauth.failNext(1, 503, { grant: 'refresh_token' });

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('bob@example.com');
    // A blip at the token endpoint is no reason to ask the user for a new login.
    const alice = pool.account('alice@example.com');
    expect(pool!.state(alice)).toBe('cooling_down');
    expect(alice.availability(clock.now())).toMatchObject({ state: 'cooling_down', until: clock.now() + 30_000 });
    expect(alice.record.verdict).toBeNull();
    expect(alice.lastError).toMatch(/refresh/i);
    const dead = `Bearer ${alice.record.access_token}`;
    expect(pool.upstream.requests.filter((r) => r.headers.authorization === dead)).toHaveLength(1);

    // The refused token is not tried again, nor is the token endpoint hammered by every request:
    // within 30 s alice is skipped without a refresh call.
    for (let i = 0; i < 3; i++) {
      const soon = await postMessage(pool.svc.url);
      expect(soon.headers['x-balancer-account']).toBe('bob@example.com');
    }
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);

    // After that, a request refreshes her on demand and she is back.
    await clock.advance(30_000);
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const again = await postMessage(pool.svc.url);
      expect(again.status).toBe(200);
      served.add(String(again.headers['x-balancer-account']));
    }
    expect(served).toEqual(new Set(['alice@example.com', 'bob@example.com']));
    expect(pool.upstream.requests.filter((r) => r.headers.authorization === dead)).toHaveLength(1);
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(2);
    expect(alice.lastError).toBeNull();
  });

  it('a 403 authentication_error is handled like a 401: refresh and retry on the same account', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com', 'bob@example.com'] });
    pool.upstream.script({
      kind: 'json',
      status: 403,
      body: { type: 'error', error: { type: 'authentication_error', message: 'OAuth token has been revoked.' } },
    });
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('alice@example.com');
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(1);
  });

  it('a 403 permission_error about the request costs no account its login', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    const forbidden = { kind: 'json', status: 403 } as const; // the fake's permission_error body
    pool.upstream.script(forbidden, forbidden, forbidden);
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(403);
    expect(res.json.error.type).toBe('permission_error');
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(0);
    expect(pool!.state('alice@example.com')).toBe('active');
    // The account goes on serving other requests.
    pool.upstream.reset();
    const next = await postMessage(pool.svc.url);
    expect(next.status).toBe(200);
    expect(next.headers['x-balancer-account']).toBe('alice@example.com');
  });

  it('a 403 "not allowed for this organization" takes the account out without a refresh', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com', 'bob@example.com'] });
    pool.upstream.script({
      kind: 'json',
      status: 403,
      body: { type: 'error', error: { type: 'permission_error', message: 'OAuth authentication is currently not allowed for this organization.' } },
    });
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('bob@example.com');
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(0);
    expect(pool!.state('alice@example.com')).toBe('banned');
    for (let i = 0; i < 3; i++) expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('bob@example.com');
  });

  it('20 concurrent requests refused with the same revoked token cause one refresh, and all succeed on that account', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    pool.oauth.revokeAccessTokens('alice@example.com');
    pool.oauth.delayTokenMs = 200;
    const results = await Promise.all(Array.from({ length: 20 }, () => postMessage(pool!.svc.url)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(1);
    expect(pool!.state('alice@example.com')).toBe('active');
  });
});

describe('when no oauth account can serve', () => {
  it('answers 401 with a fresh login URL and prints the banner once a minute, not once per request', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com'] });
    const { oauth, svc } = pool;
    oauth.revokeAccessTokens('alice@example.com');
    oauth.revokeRefreshToken('alice@example.com');

    const urls = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await postMessage(svc.url);
      expect(res.status).toBe(401);
      expect(res.json.type).toBe('error');
      expect(res.json.error.type).toBe('authentication_error');
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.json.error.message.startsWith(`claude-code-balancer (${svc.url}) has no Claude account that can serve: log one in with `)).toBe(true);
      expect(res.json.error.message).toContain('(every account (1) needs a new login or is banned;');
      expect(res.json.error.message).toContain(`curl -X POST ${svc.url}/oauth/exchange-code`);
      const url = LOGIN_URL.exec(res.json.error.message)?.[1];
      expect(url).toBeDefined();
      urls.add(url!);
    }
    // One login serves them all while it has time left, so failing requests cannot crowd out the
    // login the user is completing.
    expect(urls.size).toBe(1);
    expect(pool!.state('alice@example.com')).toBe('needs_login');
    // The upstream heard from alice once (the 401) and from nobody after that.
    expect(pool.upstream.requests).toHaveLength(1);

    expect(svc.banners).toHaveLength(1);
    const banner = svc.banners[0];
    expect(banner).toContain('CLAUDE CODE OFFICIAL AUTHORIZATION REQUIRED');
    expect(banner).toContain(`claude-code-balancer (${svc.url}) has no Claude account that can serve: log one in with `);
    expect(banner).toContain(`(valid for 10 minutes, until ${new Date(clock.now() + 10 * 60_000).toISOString()})`);
    expect(banner).toMatch(LOGIN_URL);
    expect(banner).toContain(`curl -X POST ${svc.url}/oauth/exchange-code`);

    await clock.advance(30_000);
    expect((await postMessage(svc.url)).status).toBe(401);
    expect(svc.banners).toHaveLength(1);
    await clock.advance(30_000);
    expect((await postMessage(svc.url)).status).toBe(401);
    expect(svc.banners).toHaveLength(2);

    // That URL completes a login that brings the service back.
    const shown = await oauth.approve([...urls][0], 'alice@example.com');
    const exchanged = await fetch(`${svc.url}/oauth/exchange-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: shown }),
    });
    expect(exchanged.status).toBe(200);
    expect((await postMessage(svc.url)).status).toBe(200);
  });

  it('says no account is logged in when the pool is empty', async ({ startPool }) => {
    const pool = await startPool();
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/no Claude account is logged in/i);
  });

  it('fails over to the next provider', async ({ startPool }) => {
    other = await startFakeAnthropic();
    const pool = await startPool({ moreProviders: [apiKeyProvider('backup', other.url)], accounts: ['alice@example.com'] });
    pool.oauth.revokeAccessTokens('alice@example.com');
    pool.oauth.revokeRefreshToken('alice@example.com');

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-provider']).toBe('backup');
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0].headers['x-api-key']).toMatch(/^sk-ant-api03-/);
    expect(other.requests[0].headers.authorization).toBeUndefined();
    // Served by the backup: no login banner, no pending login started for it.
    expect(pool.svc.banners).toHaveLength(0);
  });
});
