// Issue 12: pool behaviours that stranded accounts on the way to a working login. Each test talks
// HTTP and counts at the fakes, so it runs against the code before the fix, where each failed.
import { describe, expect } from 'vitest';
import { it, admin, eventually, fakeClock, HOUR, MINUTE, postMessage, type Pool } from '../support/pool.js';

const TTL_MS = 8 * HOUR; // the fake's default expires_in
const LEAD_MS = 300_000;
const ACCOUNTS = ['a@example.com', 'b@example.com', 'c@example.com'];

const refreshCalls = (p: Pool) => p.oauth.tokenCalls.filter((c) => c.grant_type === 'refresh_token').length;

describe('two 401s in a row after a successful refresh', () => {
  it('put the account in a short cooldown, not needs_login, and it serves again afterwards', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { strategy: 'round_robin' }, accounts: ['alice@example.com', 'bob@example.com'] });
    // A revoke lands between the refresh and the retry.
    pool.upstream.script({ kind: 'json', status: 401 }, { kind: 'json', status: 401 });
    expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('bob@example.com');
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(1);

    const alice = await pool.shown('alice@example.com');
    expect(alice.status).toBe('cooling_down');
    expect(alice.is_healthy).toBe(false);
    expect(alice.rate_limit.cooldown_until).toBe(new Date(clock.now() + 30_000).toISOString());

    await clock.advance(30_000);
    const served = new Set<string>();
    for (let i = 0; i < 2; i++) served.add(String((await postMessage(pool.svc.url)).headers['x-balancer-account']));
    expect(served).toEqual(new Set(['alice@example.com', 'bob@example.com']));
    expect((await pool.shown('alice@example.com')).status).toBe('active');
  });
});

describe('an account deleted while its refresh is in flight', () => {
  it('drops the result, lets the waiting requests move on, and never sends the spent refresh token again', async ({ startPool }) => {
    const pool = await startPool({ oauth: { strategy: 'round_robin' }, accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth } = pool;
    oauth.revokeAccessTokens('alice@example.com');
    oauth.delayTokenMs = 300;
    const requests = Array.from({ length: 20 }, () => postMessage(pool!.svc.url));
    await eventually(() => expect(refreshCalls(pool!)).toBe(1));
    expect((await admin(pool.svc.url, 'DELETE', '/oauth/tokens/alice@example.com')).status).toBe(200);
    oauth.delayTokenMs = 0;

    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(results.map((r) => r.headers['x-balancer-account']))).toEqual(new Set(['bob@example.com']));
    expect(refreshCalls(pool)).toBe(1);
    expect(oauth.refreshTokenReuses()).toBe(0);
    expect((await pool.status()).tokens.map((t: { account_email: string }) => t.account_email)).toEqual(['bob@example.com']);
    expect((await pool.store.load()).map((r) => r.email)).toEqual(['bob@example.com']);
  });
});

describe('timed refreshes', () => {
  it('of accounts with equal expiries start 2 s apart', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ACCOUNTS });
    await clock.advance(TTL_MS - LEAD_MS);
    await eventually(() => expect(refreshCalls(pool!)).toBe(1));
    await clock.advance(1999);
    expect(refreshCalls(pool)).toBe(1);
    await clock.advance(1);
    await eventually(() => expect(refreshCalls(pool!)).toBe(2));
    await clock.advance(1999);
    expect(refreshCalls(pool)).toBe(2);
    await clock.advance(1);
    await eventually(() => expect(refreshCalls(pool!)).toBe(3));
    for (const email of ACCOUNTS) expect(pool.oauth.refreshCallsFor(email)).toBe(1);
  });

  it('of accounts that expired while the service was down start 2 s apart at startup', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ACCOUNTS });
    await pool.svc.close();
    clock.jump(TTL_MS + HOUR);
    await pool.restart();
    await eventually(() => expect(refreshCalls(pool!)).toBe(1));
    await clock.advance(1999);
    expect(refreshCalls(pool)).toBe(1);
    await clock.advance(1);
    await eventually(() => expect(refreshCalls(pool!)).toBe(2));
    await clock.advance(2000);
    await eventually(() => expect(refreshCalls(pool!)).toBe(3));
    for (const email of ACCOUNTS) expect(pool.oauth.refreshCallsFor(email)).toBe(1);
  });
});

describe('a banned organization', () => {
  it('sets banned: shown as such, never refreshed, and it stays banned after a restart', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com', 'bob@example.com'] });
    const message = 'OAuth authentication is currently not allowed for this organization.';
    pool.upstream.script({ kind: 'json', status: 403, body: { type: 'error', error: { type: 'permission_error', message } } });
    expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('bob@example.com');

    const alice = await pool.shown('alice@example.com');
    expect(alice).toMatchObject({ status: 'banned', is_healthy: false, last_error: message });
    await clock.advance(TTL_MS + MINUTE);
    await eventually(() => expect(pool!.oauth.refreshCallsFor('bob@example.com')).toBe(1));
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(0);
    expect((await admin(pool.svc.url, 'POST', '/oauth/refresh/alice@example.com')).status).toBe(502);
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(0);

    await pool.svc.close();
    await pool.restart();
    expect((await pool.shown('alice@example.com')).status).toBe('banned');
  });
});
