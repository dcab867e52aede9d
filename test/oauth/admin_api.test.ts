// Issue 3, admin API: /oauth/status (never a token), deleting accounts, forcing a refresh.
import { describe, expect } from 'vitest';
import { REFRESH_SPACING_MS } from '../../src/oauth/refresher.js';
import { it, admin, eventually, fakeClock, HOUR, MINUTE, postMessage, type Pool } from '../support/pool.js';

const TTL_MS = 8 * HOUR;

describe('GET /oauth/status', () => {
  it('lists every account with its state and statistics, and never a token value', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com', 'bob@example.com'] });
    const loggedInAt = clock.now();
    for (let i = 0; i < 3; i++) expect((await postMessage(pool.svc.url)).status).toBe(200);
    await clock.advance(5 * MINUTE);

    const res = await admin(pool.svc.url, 'GET', '/oauth/status');
    expect(res.status).toBe(200);
    const body = res.json;
    expect(body).toMatchObject({ total_tokens: 2, healthy_tokens: 2 });
    expect(body.tokens).toHaveLength(2);
    const alice = body.tokens.find((t: { account_email: string }) => t.account_email === 'alice@example.com');
    for (const key of [
      'account_email', 'status', 'is_healthy', 'expires_at', 'expires_in_minutes', 'usage_count', 'last_used',
      'last_used_timestamp', 'created_at', 'scopes', 'last_refresh_at', 'last_error', 'rate_limit',
    ]) {
      expect(alice, key).toHaveProperty(key);
    }
    expect(alice).toMatchObject({
      status: 'active',
      is_healthy: true,
      expires_at: new Date(loggedInAt + TTL_MS).toISOString(),
      expires_in_minutes: 8 * 60 - 5,
      usage_count: 2,
      last_used: '5 minutes ago',
      created_at: new Date(loggedInAt).toISOString(),
      last_refresh_at: null,
      last_error: null,
    });
    expect(alice.scopes).toContain('user:inference');

    // No secret of any kind, and none of the actual token values.
    expect(res.text).not.toMatch(/sk-ant-/);
    for (const account of pool.svc.service.oauth.pool.list()) {
      expect(res.text).not.toContain(account.record.access_token);
      expect(res.text).not.toContain(account.record.refresh_token!);
    }
  });

  it('counts an account that needs a new login as unhealthy', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com', 'bob@example.com'] });
    pool.oauth.revokeAccessTokens('alice@example.com');
    pool.oauth.revokeRefreshToken('alice@example.com');
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    const status = await pool.status();
    expect(status).toMatchObject({ total_tokens: 2, healthy_tokens: 1 });
    expect(status.tokens.find((t: { account_email: string }) => t.account_email === 'alice@example.com')).toMatchObject({
      status: 'needs_login',
      is_healthy: false,
    });
  });
});

describe('DELETE /oauth/tokens/:email and /oauth/tokens', () => {
  it('removes one account at once: out of rotation, its refresh timer stopped; 404 for an unknown email', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com', 'bob@example.com'] });

    const unknown = await admin(pool.svc.url, 'DELETE', '/oauth/tokens/nobody@example.com');
    expect(unknown.status).toBe(404);
    expect(typeof unknown.json.error).toBe('string');

    const removed = await admin(pool.svc.url, 'DELETE', '/oauth/tokens/ALICE@example.com');
    expect(removed.status).toBe(200);
    expect((await pool.status()).tokens.map((t: { account_email: string }) => t.account_email)).toEqual(['bob@example.com']);
    expect(await pool.store.load()).toHaveLength(1);

    for (let i = 0; i < 3; i++) expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('bob@example.com');

    // Bob's timer was set REFRESH_SPACING_MS after alice's.
    await clock.advance(TTL_MS - 300_000 + REFRESH_SPACING_MS);
    await eventually(() => expect(pool!.oauth.refreshCallsFor('bob@example.com')).toBe(1));
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(0);
  });

  it('lets an in-flight request on the removed account finish', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    pool.upstream.script({ kind: 'sse', hold: held });
    const streaming = postMessage(pool.svc.url, {
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, stream: true, messages: [] }),
    });
    await pool.upstream.waitForRequests(1);
    expect((await admin(pool.svc.url, 'DELETE', '/oauth/tokens/alice@example.com')).status).toBe(200);
    release();
    const res = await streaming;
    expect(res.status).toBe(200);
    expect(res.text).toContain('event: message_stop');
    expect((await postMessage(pool.svc.url)).status).toBe(401);
  });

  it('removes every account with DELETE /oauth/tokens', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com', 'bob@example.com'] });
    const res = await admin(pool.svc.url, 'DELETE', '/oauth/tokens');
    expect(res.status).toBe(200);
    expect(res.json.removed).toBe(2);
    expect((await pool.status()).total_tokens).toBe(0);
    expect(await pool.store.load()).toEqual([]);
    expect((await postMessage(pool.svc.url)).status).toBe(401);
    expect((await admin(pool.svc.url, 'DELETE', '/oauth/tokens')).json.removed).toBe(0);
  });
});

describe('POST /oauth/refresh/:email', () => {
  it('forces a refresh and answers the new expires_at', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com'] });
    const oldRefresh = pool.account('alice@example.com').record.refresh_token;
    await clock.advance(HOUR);

    const res = await admin(pool.svc.url, 'POST', '/oauth/refresh/alice@example.com');
    expect(res.status).toBe(200);
    expect(res.json.expires_at).toBe(new Date(clock.now() + TTL_MS).toISOString());
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(1);
    const record = pool.account('alice@example.com').record;
    expect(record.refresh_token).not.toBe(oldRefresh);
    expect(record.refresh_token).toBe(pool.oauth.currentRefreshToken('alice@example.com'));
    expect((await pool.store.load())[0].refresh_token).toBe(record.refresh_token);
  });

  it('answers the refresh error, and 404 for an unknown account', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    expect((await admin(pool.svc.url, 'POST', '/oauth/refresh/nobody@example.com')).status).toBe(404);

    pool.oauth.failNext(1, 503, { grant: 'refresh_token' });
    const transient = await admin(pool.svc.url, 'POST', '/oauth/refresh/alice@example.com');
    expect(transient.status).toBe(502);
    expect(transient.json.account_status).toBe('active');

    pool.oauth.revokeRefreshToken('alice@example.com');
    const refused = await admin(pool.svc.url, 'POST', '/oauth/refresh/alice@example.com');
    expect(refused.status).toBe(502);
    expect(refused.json).toMatchObject({ status: "error", error: "refresh_failed", message: expect.stringMatching(/invalid_grant/) });
    expect(refused.json.account_status).toBe('needs_login');
    expect(refused.text).not.toMatch(/sk-ant-/);
  });
});
