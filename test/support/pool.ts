// The shared helpers of the account-pool, scheduling and persistence tests: the real service on
// loopback over the fake OAuth server and the fake Messages API (an optional fake clock drives
// schedules), requests as clients make them, and a vitest fixture that closes what a test started.
import { createClock, type Clock as SinonClock } from '@sinonjs/fake-timers';
import { request } from 'undici';
import { it as base, vi } from 'vitest';
import { statusName, type Account } from '../../src/oauth/account.js';
import type { Clock } from '../../src/oauth/clock.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import type { TokenStore } from '../../src/store/token-store.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startFakeOAuth, type FakeOAuth } from '../fakes/fake-oauth.js';
import { configWith, startService, type RunningService } from './harness.js';
import { oauthProvider, oauthSettingsFor } from './oauth-setup.js';

/** A fake clock for the service only (global timers stay real, so sockets keep working). */
export interface TestClock {
  readonly sinon: SinonClock;
  readonly clock: Clock;
  now(): number;
  /** Advances the clock, firing due timers (their async work continues on real I/O afterwards). */
  advance(ms: number): Promise<void>;
  /** Moves the time on without firing timers (pending ones stay as far away as they were), as after a suspended laptop. */
  jump(ms: number): void;
}

export function fakeClock(start = Date.UTC(2026, 5, 1, 12, 0, 0)): TestClock {
  const sinon = createClock(start);
  return {
    sinon,
    clock: {
      now: () => sinon.now,
      setTimeout: (fn, ms) => sinon.setTimeout(fn, ms),
      clearTimeout: (handle) => sinon.clearTimeout(handle as Parameters<SinonClock['clearTimeout']>[0]),
    },
    now: () => sinon.now,
    advance: async (ms) => {
      await sinon.tickAsync(ms);
    },
    jump: (ms) => sinon.setSystemTime(sinon.now + ms),
  };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export const MESSAGE_BODY = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

export interface ApiResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** POST /v1/messages as Claude Code would (with its own betas and credential, which must not reach the upstream). */
export async function postMessage(
  url: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<ApiResult> {
  const res = await request(`${url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      authorization: 'Bearer client-placeholder-token',
      ...opts.headers,
    },
    body: opts.body ?? MESSAGE_BODY,
  });
  return readResult(res);
}

export async function readResult(res: Awaited<ReturnType<typeof request>>): Promise<ApiResult> {
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** A call to the admin API (loopback, so no token is needed unless the test sets one). */
export async function admin(
  url: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResult> {
  const res = await request(`${url}${path}`, {
    method,
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  return readResult(res);
}

export interface Pool {
  svc: RunningService;
  oauth: FakeOAuth;
  upstream: FakeAnthropic;
  store: TokenStore;
  /** Logs in through the admin API: generate-url, approve at the fake, exchange CODE#STATE. */
  login(email: string): Promise<ApiResult>;
  /** /oauth/status, parsed. */
  status(): Promise<any>;
  account(email: string): Account;
  /** The account's entry in /oauth/status. */
  shown(email: string): Promise<any>;
  /** POSTs a message and returns the account that served it (the answer must be a 200). */
  servedBy(headers?: Record<string, string>): Promise<string>;
  /** Stops the service and starts it again over the same store, config and clock. */
  restart(): Promise<void>;
  /** The account's availability as /oauth/status names it ('active' when usable), now on the service's clock. */
  state(account: string | Account): string;
  close(): Promise<void>;
}

export interface PoolOptions {
  clock?: TestClock;
  /** settings.oauth besides the fake endpoints. */
  oauth?: Record<string, unknown>;
  /** Top-level settings. */
  settings?: Record<string, unknown>;
  /** Providers after the oauth one. */
  moreProviders?: object[];
  accounts?: string[];
  store?: TokenStore;
}

/** The service with one oauth provider over the fakes, and the given accounts logged in. */
export async function startPool(opts: PoolOptions = {}): Promise<Pool> {
  const oauth = await startFakeOAuth();
  const upstream = await startFakeAnthropic({ auth: { mode: 'oauth', liveTokens: oauth.liveTokens } });
  const store = opts.store ?? new MemoryTokenStore();
  const config = configWith([oauthProvider(upstream.url), ...(opts.moreProviders ?? [])], {
    ...opts.settings,
    oauth: oauthSettingsFor(oauth, opts.oauth),
  });
  const svc = await startService({ config, store, clock: opts.clock?.clock });
  // Methods read pool.svc, so a test may replace the service (a restart over the same store).
  const pool: Pool = {
    svc,
    oauth,
    upstream,
    store,
    async login(email) {
      const url = await admin(pool.svc.url, 'GET', '/oauth/generate-url');
      const code = await oauth.approve(url.json.login_url, email);
      return admin(pool.svc.url, 'POST', '/oauth/exchange-code', { body: { code } });
    },
    async status() {
      const res = await admin(pool.svc.url, 'GET', '/oauth/status');
      if (res.status !== 200) throw new Error(`/oauth/status answered ${res.status}: ${res.text}`);
      return res.json;
    },
    account(email) {
      const account = pool.svc.service.oauth.pool.get(email);
      if (!account) throw new Error(`no account ${email} in the pool`);
      return account;
    },
    state(account) {
      const oauth = pool.svc.service.oauth.pool;
      return statusName((typeof account === 'string' ? pool.account(account) : account).availability(oauth.clock.now()));
    },
    async shown(email) {
      return (await pool.status()).tokens.find((t: { account_email: string }) => t.account_email === email);
    },
    async servedBy(headers = {}) {
      const res = await postMessage(pool.svc.url, { headers });
      if (res.status !== 200) throw new Error(`expected a 200, got ${res.status}: ${res.text}`);
      return String(res.headers['x-balancer-account']);
    },
    async restart() {
      await pool.svc.close();
      pool.svc = await startService({ config, store, clock: opts.clock?.clock });
    },
    async close() {
      await pool.svc.close();
      await upstream.close();
      await oauth.close();
    },
  };
  for (const email of opts.accounts ?? []) {
    const res = await pool.login(email);
    if (res.status !== 200) throw new Error(`login of ${email} failed: ${res.status} ${res.text}`);
  }
  return pool;
}

/** Waits for something asynchronous the service does on its own (e.g. after a timer fired). */
export function eventually<T>(check: () => T | Promise<T>, timeout = 5000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 10 });
}

/**
 * `it` with a `startPool` fixture: pools a test starts through it are closed after the test,
 * whatever happens in it.
 */
export const it = base.extend<{ startPool: (opts?: PoolOptions) => Promise<Pool> }>({
  // eslint-disable-next-line no-empty-pattern
  startPool: async ({}, use) => {
    const started: Pool[] = [];
    await use(async (opts) => {
      const pool = await startPool(opts);
      started.push(pool);
      return pool;
    });
    for (const pool of started) await pool.close();
  },
});
