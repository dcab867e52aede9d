// Issue 5, rate limits: unified headers recorded and shown, 429 classification (subscription limit
// vs request-scoped), failover within the request, and the 429 the client gets when all are limited.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect } from 'vitest';
import { bare429CooldownMs } from '../../src/oauth/rate-limit.js';
import { startFakeAnthropic, unifiedHeaders, type FakeAnthropic, type Step } from '../fakes/fake-anthropic.js';
import { apiKeyProvider } from '../support/harness.js';
import { it, fakeClock, HOUR, MINUTE, postMessage, type Pool, type PoolOptions, type TestClock } from '../support/pool.js';

let other: FakeAnthropic | undefined;
afterEach(async () => {
  await other?.close();
  other = undefined;
});

const A = 'alice@example.com';
const B = 'bob@example.com';
const iso = (ms: number) => new Date(ms).toISOString();

const rejected = (resetSeconds: number): Step => ({
  kind: 'json',
  status: 429,
  headers: unifiedHeaders({ status: 'rejected', reset: resetSeconds, claim: 'five_hour', util5h: 1.02, util7d: 0.4 }),
});
const bare429: Step = { kind: 'json', status: 429 };

/** Upstream requests made with an account's current token. */
const trafficOf = (p: Pool, email: string) =>
  p.upstream.requests.filter((r) => r.headers.authorization === `Bearer ${p.account(email).record.access_token}`).length;

/** Answers every request of one account with the given step while `on` is true. */
function answerFor(p: Pool, email: string, step: () => Step | undefined) {
  p.upstream.onRequest((req) =>
    req.headers.authorization === `Bearer ${p.account(email).record.access_token}` ? step() : undefined,
  );
}

const startTwo = (startPool: (opts: PoolOptions) => Promise<Pool>, clock: TestClock, extra: Record<string, unknown> = {}) =>
  startPool({ clock, accounts: [A, B], ...extra });

describe('unified rate-limit headers', () => {
  it('are recorded from every response and shown in /oauth/status', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: [A] });
    const reset = Math.floor(clock.now() / 1000) + 2 * 3600;
    pool.upstream.script({
      kind: 'json',
      headers: unifiedHeaders({ status: 'allowed_warning', reset, claim: 'five_hour', util5h: 0.84, util7d: 0.31 }),
    });
    expect(await pool.servedBy()).toBe(A);
    const { rate_limit, status } = await pool.shown(A);
    expect(status).toBe('active');
    expect(rate_limit).toMatchObject({
      status: 'allowed_warning',
      utilization_5h: 0.84,
      utilization_7d: 0.31,
      resets_at: iso(reset * 1000),
      resets_5h_at: iso(reset * 1000),
      limited_until: null,
    });
  });
});

describe('a 429 with unified status rejected', () => {
  it('benches the account until the reset, with no traffic, and it rejoins after the reset by itself', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    const reset = Math.floor(clock.now() / 1000) + 2 * 3600;
    pool.upstream.script(rejected(reset));

    // The 429 is absorbed: the same request is served by bob.
    expect(await pool.servedBy()).toBe(B);
    expect(pool.upstream.requests).toHaveLength(2);
    const limited = await pool.shown(A);
    expect(limited.status).toBe('rate_limited');
    expect(limited.is_healthy).toBe(false);
    expect(limited.rate_limit).toMatchObject({ status: 'rejected', limited_until: iso(reset * 1000), resets_at: iso(reset * 1000) });
    expect((await pool.status()).healthy_tokens).toBe(1);

    for (let i = 0; i < 6; i++) expect(await pool.servedBy()).toBe(B);
    await clock.advance(2 * HOUR - 1000);
    for (let i = 0; i < 4; i++) expect(await pool.servedBy({ 'x-claude-code-session-id': randomUUID() })).toBe(B);
    expect(trafficOf(pool, A)).toBe(1);

    await clock.advance(1000);
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) served.add(await pool.servedBy());
    expect(served).toEqual(new Set([A, B]));
    expect((await pool.shown(A)).status).toBe('active');
    expect((await pool.shown(A)).rate_limit.limited_until).toBeNull();
  });

  it('moves a pinned session to another account within the same request, and it stays there', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    const session = { 'x-claude-code-session-id': randomUUID() };
    expect(await pool.servedBy(session)).toBe(A);
    expect(await pool.servedBy(session)).toBe(A);

    pool.upstream.script(rejected(Math.floor(clock.now() / 1000) + 3600));
    const before = pool.upstream.requests.length;
    expect(await pool.servedBy(session)).toBe(B);
    expect(pool.upstream.requests.length - before).toBe(2);

    for (let i = 0; i < 3; i++) expect(await pool.servedBy(session)).toBe(B);
  });

  it('with a unified reset but no status: still a subscription limit', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    const reset = Math.floor(clock.now() / 1000) + 1800;
    pool.upstream.script({ kind: 'json', status: 429, headers: { 'anthropic-ratelimit-unified-reset': String(reset) } });
    expect(await pool.servedBy()).toBe(B);
    expect((await pool.shown(A)).rate_limit.limited_until).toBe(iso(reset * 1000));
  });
});

describe('an account back from its limit', () => {
  it('gets new sessions again: the utilization of a window that has reset no longer counts', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    const now = Math.floor(clock.now() / 1000);
    const resetA = now + 3600;
    pool.upstream.onRequest((req) => {
      const util = (util5h: number, reset: number, status: 'allowed' | 'rejected' = 'allowed'): Step => ({
        kind: 'json',
        status: status === 'rejected' ? 429 : 200,
        headers: unifiedHeaders({ status, reset, claim: 'five_hour', util5h }),
      });
      if (req.headers.authorization === `Bearer ${pool!.account(A).record.access_token}`) {
        return clock.now() < resetA * 1000 ? util(1.02, resetA, 'rejected') : util(0.05, now + 6 * 3600);
      }
      return util(0.5, now + 4 * 3600);
    });

    expect(await pool.servedBy({ 'x-claude-code-session-id': randomUUID() })).toBe(B);
    expect((await pool.shown(A)).status).toBe('rate_limited');

    await clock.advance(HOUR + 1000);
    const served = [];
    for (let i = 0; i < 3; i++) served.push(await pool.servedBy({ 'x-claude-code-session-id': randomUUID() }));
    expect(served).toContain(A);
  });
});

describe('a 429 without unified headers', () => {
  it('is absorbed by failover and benches the account only briefly: 60 s, doubling on repeats, at most 5 min', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    let limited = true;
    answerFor(pool, A, () => (limited ? bare429 : undefined));

    expect(await pool.servedBy()).toBe(B);
    let shown = await pool.shown(A);
    expect(shown.status).toBe('cooling_down');
    expect(shown.availability).toEqual({ state: 'cooling_down', reason: 'request-scoped 429', until: iso(clock.now() + 60_000) });
    expect(shown.rate_limit.limited_until).toBeNull();
    expect(shown.rate_limit.cooldown_until).toBe(iso(clock.now() + 60_000));

    await clock.advance(59_000);
    for (let i = 0; i < 3; i++) expect(await pool.servedBy()).toBe(B);
    expect(trafficOf(pool, A)).toBe(1);

    // Each time alice is back she gets another bare 429: the pause doubles.
    const pauses = [];
    for (let i = 0; i < 4; i++) {
      await clock.advance(shown.rate_limit.cooldown_until ? Date.parse(shown.rate_limit.cooldown_until) - clock.now() : 0);
      expect(await pool.servedBy()).toBe(B);
      shown = await pool.shown(A);
      pauses.push(Date.parse(shown.rate_limit.cooldown_until) - clock.now());
    }
    expect(pauses).toEqual([120_000, 240_000, 300_000, 300_000]);
    expect(trafficOf(pool, A)).toBe(5);

    // Once alice answers again, the streak is over.
    limited = false;
    await clock.advance(300_000);
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) served.add(await pool.servedBy());
    expect(served).toEqual(new Set([A, B]));
    expect(bare429CooldownMs(1)).toBe(60_000);
  });

  it('never benches the only usable account', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: [A] });
    pool.upstream.script(bare429);
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(429);
    expect((await pool.shown(A)).rate_limit.cooldown_until).toBeNull();
    expect(await pool.servedBy()).toBe(A);
    expect(pool.upstream.requests).toHaveLength(2);
  });

  it('never benches the last usable account while the others are limited', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    // Alice hits her subscription limit; bob then gets a request-scoped 429.
    pool.upstream.script(rejected(Math.floor(clock.now() / 1000) + 3600), bare429);
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(429);
    expect((await pool.shown(B)).rate_limit.cooldown_until).toBeNull();
    expect(await pool.servedBy()).toBe(B);
  });
});

describe('529 and 5xx', () => {
  for (const status of [529, 500, 503]) {
    it(`${status} fails the request over without benching the account`, async ({ startPool }) => {
      const clock = fakeClock();
      const pool = await startTwo(startPool, clock);
      pool.upstream.script({ kind: 'json', status });
      expect(await pool.servedBy()).toBe(B);
      const shown = await pool.shown(A);
      expect(shown.status).toBe('active');
      expect(shown.rate_limit).toMatchObject({ limited_until: null, cooldown_until: null });
      expect(await pool.servedBy()).toBe(A);
    });
  }

  it('a pinned session moves with the failover', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    const session = { 'x-claude-code-session-id': randomUUID() };
    expect(await pool.servedBy(session)).toBe(A);
    pool.upstream.script({ kind: 'json', status: 529 });
    expect(await pool.servedBy(session)).toBe(B);
    expect(await pool.servedBy(session)).toBe(B);
  });
});

describe('when every account is rate limited', () => {
  it('answers 429 rate_limit_error with retry-after from the earliest reset, naming when the first account frees up', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startTwo(startPool, clock);
    const now = Math.floor(clock.now() / 1000);
    const resets: Record<string, number> = { [A]: now + 3 * 3600, [B]: now + 3600 };
    let limiting = true;
    pool.upstream.onRequest((req) => {
      if (!limiting) return undefined;
      for (const email of [A, B]) {
        if (req.headers.authorization === `Bearer ${pool!.account(email).record.access_token}`) return rejected(resets[email]);
      }
      return undefined;
    });

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(429);
    expect(res.json.type).toBe('error');
    expect(res.json.error.type).toBe('rate_limit_error');
    expect(res.headers['retry-after']).toBe('3600');
    // The pool's own 429: a client retrying it would only wait in silence.
    expect(res.headers['x-should-retry']).toBe('false');
    expect(res.json.error.message).toMatch(
      new RegExp(`^claude-code-balancer \\(${pool.svc.url.replace(/\./g, '\\.')}\\) has no Claude account that can serve now: every one is rate limited, the first frees up at `),
    );
    expect(res.json.error.message).toContain(iso(resets[B] * 1000));
    // /v1 may be open to more people than the admin API: no account emails there.
    expect(res.json.error.message).not.toContain('@example.com');
    expect(pool.upstream.requests).toHaveLength(2);

    // Later requests do not bother the upstream, and the wait shrinks with time.
    await clock.advance(10 * MINUTE);
    const later = await postMessage(pool.svc.url);
    expect(later.status).toBe(429);
    expect(later.headers['retry-after']).toBe('3000');
    expect(pool.upstream.requests).toHaveLength(2);
    const status = await pool.status();
    expect(status.healthy_tokens).toBe(0);
    expect(status.tokens.map((t: { status: string }) => t.status)).toEqual(['rate_limited', 'rate_limited']);

    limiting = false;
    await clock.advance(50 * MINUTE);
    expect(await pool.servedBy()).toBe(B);
  });

  it('moves on to the next provider first', async ({ startPool }) => {
    const clock = fakeClock();
    other = await startFakeAnthropic();
    const pool = await startTwo(startPool, clock, { moreProviders: [apiKeyProvider('backup', other.url)] });
    const reset = Math.floor(clock.now() / 1000) + 3600;
    pool.upstream.script(rejected(reset), rejected(reset));
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-provider']).toBe('backup');
    expect(other.requests).toHaveLength(1);
  });
});
