// Issue 12 (and 11 point 5): what the account record keeps and what the pool announces: usage
// counts requests served (attempts apart), utilization snapshots survive a restart until their
// window resets, the fill strategy, and the typed pool events (never a token).
import { describe, expect } from 'vitest';
import type { PoolEvent } from '../../src/oauth/pool-events.js';
import { unifiedHeaders } from '../fakes/fake-anthropic.js';
import { it, admin, fakeClock, HOUR, postMessage, type Pool, type TestClock } from '../support/pool.js';

/** Every response of `email` reports this 5-hour utilization, its window resetting in an hour. */
function reportUtilization(p: Pool, clock: TestClock, byEmail: Record<string, number>) {
  p.upstream.onRequest((req) => {
    for (const [email, util5h] of Object.entries(byEmail)) {
      if (req.headers.authorization === `Bearer ${p.account(email).record.access_token}`) {
        const reset = Math.floor(clock.now() / 1000) + 3600;
        return { kind: 'json', headers: unifiedHeaders({ status: 'allowed', reset, util5h, util7d: 0.25 }) };
      }
    }
    return undefined;
  });
}

describe('usage_count', () => {
  it('counts client requests served: a 401, a refresh and the retry count once; attempts count both', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    pool.upstream.script({ kind: 'json', status: 401 });
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect(await pool.shown('alice@example.com')).toMatchObject({ usage_count: 2, attempts: 3 });
  });
});

describe('utilization snapshots', () => {
  it('are part of the stored record, survive a restart, and are dropped once their window has reset', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com'] });
    reportUtilization(pool, clock, { 'alice@example.com': 0.42 });
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    const resets = Math.floor(clock.now() / 1000) * 1000 + HOUR;
    await pool.restart();
    const [stored] = await pool.store.load();
    expect(stored.utilization_5h).toEqual({ utilization: 0.42, resets_at: resets });
    expect(stored.utilization_7d).toEqual({ utilization: 0.25, resets_at: null });
    expect((await pool.shown('alice@example.com')).rate_limit).toMatchObject({
      utilization_5h: 0.42,
      utilization_7d: 0.25,
      resets_5h_at: new Date(resets).toISOString(),
    });

    clock.jump(HOUR);
    expect((await pool.shown('alice@example.com')).rate_limit).toMatchObject({ utilization_5h: null, resets_5h_at: null });
    await pool.restart();
    expect((await pool.shown('alice@example.com')).rate_limit).toMatchObject({ utilization_5h: null, utilization_7d: 0.25 });
    // The next write of the record leaves the past snapshot out.
    pool.upstream.onRequest(() => undefined);
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    await pool.svc.close();
    const [rewritten] = await pool.store.load();
    expect(rewritten.utilization_5h).toBeNull();
    expect(rewritten.utilization_7d).toEqual({ utilization: 0.25, resets_at: null });
    expect(rewritten.usage_count).toBe(2);
  });
});

describe('fill strategy', () => {
  it('keeps all traffic on the first account until its 5-hour utilization passes fill_threshold', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { strategy: 'fill', fill_threshold: 0.8 }, accounts: ['a@example.com', 'b@example.com'] });
    const util = { 'a@example.com': 0.5, 'b@example.com': 0.1 };
    reportUtilization(pool, clock, util);
    const served = async () => String((await postMessage(pool!.svc.url, { headers: { 'x-claude-code-session-id': `s-${Math.random()}` } })).headers['x-balancer-account']);
    for (let i = 0; i < 4; i++) expect(await served()).toBe('a@example.com');
    util['a@example.com'] = 0.81;
    expect(await served()).toBe('a@example.com'); // this answer reports 0.81
    for (let i = 0; i < 3; i++) expect(await served()).toBe('b@example.com');
    expect((await pool.status()).strategy).toBe('fill');
  });
});

describe('pool events', () => {
  it('announce logins, refreshes, limits, recovery, verdicts, removal and exhaustion, without a token', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { strategy: 'round_robin' } });
    const events: PoolEvent[] = [];
    pool.svc.service.oauth.pool.events.on('*', (e) => void events.push(e));
    await pool.login('alice@example.com');
    await pool.login('bob@example.com');
    const reset = Math.floor(clock.now() / 1000) + 600;
    pool.upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset, util5h: 1.01 }) });
    expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('bob@example.com');
    await clock.advance(600_000);
    expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('alice@example.com');
    expect((await admin(pool.svc.url, 'POST', '/oauth/refresh/bob@example.com')).status).toBe(200);
    pool.oauth.revokeAccessTokens('bob@example.com');
    pool.oauth.revokeRefreshToken('bob@example.com');
    expect((await postMessage(pool.svc.url)).headers['x-balancer-account']).toBe('alice@example.com'); // bob: 401, invalid_grant
    await admin(pool.svc.url, 'DELETE', '/oauth/tokens/alice@example.com');
    expect((await postMessage(pool.svc.url)).status).toBe(401);

    const at = clock.now();
    expect(events.map(({ type, account }) => `${type} ${account ?? '-'}`)).toEqual([
      'account_added alice@example.com',
      'account_added bob@example.com',
      'rate_limited alice@example.com',
      'recovered alice@example.com',
      'refreshed bob@example.com',
      'needs_login bob@example.com',
      'account_removed alice@example.com',
      'pool_exhausted -',
    ]);
    expect(events[2]).toEqual({ type: 'rate_limited', account: 'alice@example.com', provider: 'Claude Code Official', reason: 'subscription rate limit reached', until: reset * 1000, at: at - 600_000 });
    expect(events[5]).toEqual({ type: 'needs_login', account: 'bob@example.com', reason: expect.stringMatching(/^refresh refused: invalid_grant/), at });
    expect(events.at(-1)).toEqual({ type: 'pool_exhausted', account: null, provider: 'Claude Code Official', reason: expect.stringMatching(/needs a new login/), at });
    const text = JSON.stringify(events);
    for (const token of [...pool.oauth.liveTokens]) expect(text).not.toContain(token);
    expect(text).not.toMatch(/sk-ant-o[ar]t/);
  });
});
