// Issue 5, session strategy: a conversation stays on one account; new ones spread over the pool,
// preferring the lowest 5-hour utilization; pins expire after an hour idle; the pin table is bounded.
import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { MAX_PINS, SessionSelector } from '../../src/oauth/selection/session.js';
import { unifiedHeaders } from '../fakes/fake-anthropic.js';
import { configWith } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor } from '../support/oauth-setup.js';
import { it, fakeClock, HOUR, MINUTE, postMessage, type Pool } from '../support/pool.js';

const ACCOUNTS = ['a@example.com', 'b@example.com', 'c@example.com'];

const withHeader = (p: Pool, session: string) =>
  postMessage(p.svc.url, { headers: { 'x-claude-code-session-id': session } });

/** A Claude Code body: metadata.user_id is a JSON string carrying the session id. */
const withUserId = (p: Pool, session: string) =>
  postMessage(p.svc.url, {
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
      metadata: { user_id: JSON.stringify({ device_id: 'd'.repeat(64), account_uuid: randomUUID(), session_id: session }) },
    }),
  });

async function servedBy(res: Promise<{ status: number; headers: Record<string, unknown> }>): Promise<string> {
  const r = await res;
  expect(r.status).toBe(200);
  return String(r.headers['x-balancer-account']);
}

/** A different order each round, with the first item twice in a row. */
function orderFor<T>(items: T[], round: number): T[] {
  const rotated = [...items.slice(round % items.length), ...items.slice(0, round % items.length)];
  const ordered = round % 2 ? rotated.reverse() : rotated;
  return [ordered[0], ...ordered];
}

/** Makes the fake upstream report a 5-hour utilization per account on every response. */
function reportUtilization(p: Pool, byEmail: Record<string, number>) {
  const reset = Math.floor(Date.now() / 1000) + 3600;
  p.upstream.onRequest((req) => {
    for (const [email, util5h] of Object.entries(byEmail)) {
      if (req.headers.authorization === `Bearer ${p.account(email).record.access_token}`) {
        return { kind: 'json', headers: unifiedHeaders({ status: 'allowed', reset, util5h, util7d: 0.1 }) };
      }
    }
    return undefined;
  });
}

describe('session strategy (the default)', () => {
  it('keeps each session on one account over many interleaved requests, and spreads new sessions over all accounts', async ({ startPool }) => {
    const pool = await startPool({ accounts: ACCOUNTS });
    const sessions = Array.from({ length: 6 }, () => randomUUID());
    const seen = new Map<string, Set<string>>(sessions.map((s) => [s, new Set()]));
    // Orders in which plain rotation would move sessions between accounts.
    for (let round = 0; round < 5; round++) {
      for (const s of orderFor(sessions, round)) seen.get(s)!.add(await servedBy(withHeader(pool, s)));
    }
    for (const accounts of seen.values()) expect(accounts.size).toBe(1);
    const perAccount = new Map<string, number>();
    for (const accounts of seen.values()) {
      const [a] = accounts;
      perAccount.set(a, (perAccount.get(a) ?? 0) + 1);
    }
    expect([...perAccount.keys()].sort()).toEqual(ACCOUNTS);
    expect([...perAccount.values()]).toEqual([2, 2, 2]);
  });

  it('pins by the session_id inside metadata.user_id like by the header', async ({ startPool }) => {
    const pool = await startPool({ accounts: ACCOUNTS });
    const sessions = Array.from({ length: 3 }, () => randomUUID());
    const first = await Promise.all(sessions.map(async (s) => servedBy(withUserId(pool!, s))));
    expect(new Set(first).size).toBe(3);
    for (let round = 0; round < 4; round++) {
      for (const i of orderFor([0, 1, 2], round)) expect(await servedBy(withUserId(pool, sessions[i]))).toBe(first[i]);
    }
  });

  it('rotates requests without a session identity round-robin', async ({ startPool }) => {
    const pool = await startPool({ accounts: ACCOUNTS });
    const served = [];
    for (let i = 0; i < 6; i++) served.push(await servedBy(postMessage(pool.svc.url)));
    expect(served).toEqual([...ACCOUNTS, ...ACCOUNTS]);
  });

  it('gives a new session the account with the lowest 5-hour utilization', async ({ startPool }) => {
    const pool = await startPool({ accounts: ACCOUNTS });
    reportUtilization(pool, { 'a@example.com': 0.7, 'b@example.com': 0.2, 'c@example.com': 0.5 });
    // One request per account so the pool learns the utilizations.
    for (let i = 0; i < 3; i++) await servedBy(postMessage(pool.svc.url));
    const status = await pool.status();
    expect(status.tokens.map((t: { rate_limit: { utilization_5h: number } }) => t.rate_limit.utilization_5h)).toEqual([0.7, 0.2, 0.5]);

    for (let i = 0; i < 3; i++) expect(await servedBy(withHeader(pool, randomUUID()))).toBe('b@example.com');
  });

  it('forgets a pin after an hour idle, not before', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['a@example.com', 'b@example.com'] });
    const session = randomUUID();
    expect(await servedBy(withHeader(pool, session))).toBe('a@example.com');
    // From now on a is the busier account: a new assignment of the session would go to b.
    reportUtilization(pool, { 'a@example.com': 0.9, 'b@example.com': 0.1 });
    expect(await servedBy(withHeader(pool, session))).toBe('a@example.com');
    await servedBy(postMessage(pool.svc.url)); // b reports its utilization too

    await clock.advance(59 * MINUTE);
    expect(await servedBy(withHeader(pool, session))).toBe('a@example.com');
    await clock.advance(59 * MINUTE); // idle time counts from the last request
    expect(await servedBy(withHeader(pool, session))).toBe('a@example.com');

    await clock.advance(HOUR + 1000);
    expect(await servedBy(withHeader(pool, session))).toBe('b@example.com');
  });
});

describe('round_robin strategy', () => {
  it('ignores sessions: every request takes the next account', async ({ startPool }) => {
    const pool = await startPool({ oauth: { strategy: 'round_robin' }, accounts: ACCOUNTS });
    const served = [];
    for (let i = 0; i < 6; i++) served.push(await servedBy(withHeader(pool, 'one-session')));
    expect(served).toEqual([...ACCOUNTS, ...ACCOUNTS]);
    expect(pool.svc.service.oauth.selector).not.toBeInstanceOf(SessionSelector);
  });
});

describe('changing the strategy', () => {
  it('takes effect on a config reload', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com', 'b@example.com'] });
    const session = randomUUID();
    const pinned = await servedBy(withHeader(pool, session));
    expect(await servedBy(withHeader(pool, session))).toBe(pinned);

    pool.svc.writeConfig(
      configWith([oauthProvider(pool.upstream.url)], { oauth: oauthSettingsFor(pool.oauth, { strategy: 'round_robin' }) }),
    );
    const reload = await fetch(`${pool.svc.url}/admin/reload`, { method: 'POST' });
    expect(reload.status).toBe(200);
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) served.add(await servedBy(withHeader(pool, session)));
    expect(served).toEqual(new Set(['a@example.com', 'b@example.com']));
  });
});

describe('the pin table', () => {
  it('stays bounded under 100,000 distinct sessions, keeping the most recent ones', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ACCOUNTS });
    const selector = pool.svc.service.oauth.selector as SessionSelector;

    // Through HTTP: each session is pinned.
    for (let i = 0; i < 30; i++) await servedBy(withHeader(pool, `http-${i}`));
    expect(selector.pinCount).toBe(30);

    // The scheduler of the running service, over its real accounts.
    const accounts = pool.svc.service.oauth.pool.list();
    const recent: Array<[string, unknown]> = [];
    for (let i = 0; i < 100_000; i++) {
      const id = `s-${i}`;
      const account = selector.select(accounts, { sessionId: id, now: clock.now() })[0];
      expect(account).toBeDefined();
      if (i >= 100_000 - 100) recent.push([id, account]);
    }
    expect(selector.pinCount).toBeLessThanOrEqual(MAX_PINS);
    expect(selector.pinCount).toBeGreaterThan(MAX_PINS / 2);
    for (const [id, account] of recent) expect(selector.select(accounts, { sessionId: id, now: clock.now() })[0]).toBe(account);

    // The service still pins over HTTP afterwards.
    const session = randomUUID();
    const first = await servedBy(withHeader(pool, session));
    for (let i = 0; i < 3; i++) expect(await servedBy(withHeader(pool, session))).toBe(first);
    expect(selector.pinCount).toBeLessThanOrEqual(MAX_PINS);
  });

  it('holds at most its maximum and drops the least recently used first', async ({ startPool }) => {
    const pool = await startPool({ accounts: ACCOUNTS });
    const accounts = pool.svc.service.oauth.pool.list();
    const scheduler = new SessionSelector(100);
    const now = Date.now();
    const pick = (sessionId: string) => scheduler.select(accounts, { sessionId, now })[0];
    const keep = pick('kept-warm');
    for (let i = 0; i < 1000; i++) {
      pick(`s-${i}`);
      if (i % 50 === 0) expect(pick('kept-warm')).toBe(keep);
      expect(scheduler.pinCount).toBeLessThanOrEqual(100);
    }
    expect(scheduler.pinCount).toBe(100);
  });
});
