// Issue 11.5a: `log_level: DEBUG` logs a line per upstream attempt, per scheduler decision and per
// refresh step, never a secret; at INFO none of them is written.
import { afterEach, describe, expect } from 'vitest';
import { startFakeAnthropic, unifiedHeaders, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider } from '../support/harness.js';
import { eventually, it, postMessage, type Pool } from '../support/pool.js';

const BACKUP_KEY = 'sk-ant-api03-BACKUPSECRETabcdefghijklmnopqrstuvw';
const DOWN_KEY = 'sk-ant-api03-DOWNSECRETabcdefghijklmnopqrstuvwxyz';
const POOL = 'Claude Code Official';
const DEBUG_MESSAGES = [
  'upstream attempt',
  'scheduler decision',
  'picked account not ready; picking again',
  'refresh started',
  'refresh right taken',
  'refresh done elsewhere; using its tokens',
  'token endpoint answered',
  'new tokens persisted',
  'refresh failed',
];

let backup: FakeAnthropic | undefined;
afterEach(async () => {
  await backup?.close();
  backup = undefined;
});

/** A loopback port with nothing listening. */
async function closedPortUrl(): Promise<string> {
  const fake = await startFakeAnthropic();
  await fake.close();
  return fake.url;
}

/** The pool (alice, bob; round robin), then a provider that refuses connections, then an API-key provider that serves. */
async function startScenario(startPool: (opts?: object) => Promise<Pool>, logLevel: string): Promise<Pool> {
  backup = await startFakeAnthropic();
  return startPool({
    settings: { log_level: logLevel },
    oauth: { strategy: 'round_robin' },
    accounts: ['alice@example.com', 'bob@example.com'],
    moreProviders: [apiKeyProvider('down', await closedPortUrl(), DOWN_KEY), apiKeyProvider('backup', backup.url, BACKUP_KEY)],
  });
}

type Line = Record<string, unknown>;

/**
 * Sends one request and returns the debug lines (and "token refreshed", which ends a refresh) it
 * caused, in order: `req_id` checked against the request line and replaced by "REQ", the
 * durations checked to be numbers and left out.
 */
async function linesOf(pool: Pool, headers: Record<string, string> = {}): Promise<{ status: number; lines: Line[] }> {
  const mark = pool.svc.logs.length;
  const res = await postMessage(pool.svc.url, { headers });
  const parsed = () => pool.svc.logs.slice(mark).map((l) => JSON.parse(l) as Line);
  const request = await eventually(() => {
    const found = parsed().find((l) => l.msg === 'request');
    expect(found).toBeDefined();
    return found!;
  });
  const lines = parsed()
    .filter((l) => l.level === 'debug' || l.msg === 'token refreshed')
    .map(({ time, level, ...rest }) => {
      expect(typeof time).toBe('string');
      for (const field of ['duration_ms', 'waited_ms', 'expires_at'] as const) {
        if (field in rest) {
          expect(typeof rest[field]).toBe(field === 'expires_at' ? 'string' : 'number');
          delete rest[field];
        }
      }
      if ('req_id' in rest) {
        expect(rest.req_id).toBe(request.req_id);
        rest.req_id = 'REQ';
      }
      return level === 'debug' ? rest : { level, ...rest };
    });
  return { status: res.status, lines };
}

const decision = (account: string | undefined, reason: string, candidates: number, skipped: Record<string, string> = {}) => ({
  req_id: 'REQ',
  provider: POOL,
  strategy: 'round_robin',
  ...(account ? { account } : {}),
  reason,
  candidates,
  skipped,
  msg: 'scheduler decision',
});

const attempt = (provider: string, account: string | undefined, verdict: string, outcome: { status?: number; error?: string }) => ({
  req_id: 'REQ',
  provider,
  ...(account ? { account } : {}),
  path: '/v1/messages',
  ...outcome,
  verdict,
  msg: 'upstream attempt',
});

/** Every credential the scenario used: access and refresh tokens sent anywhere, and the provider keys. */
function secretsOf(pool: Pool): string[] {
  const secrets = new Set([BACKUP_KEY, DOWN_KEY]);
  for (const r of pool.upstream.requests) secrets.add(String(r.headers.authorization).replace(/^Bearer /, ''));
  for (const call of pool.oauth.tokenCalls) if (typeof call.body?.refresh_token === 'string') secrets.add(call.body.refresh_token);
  for (const email of ['alice@example.com', 'bob@example.com']) {
    const { access_token, refresh_token } = pool.account(email).record;
    secrets.add(access_token);
    if (refresh_token) secrets.add(refresh_token);
  }
  return [...secrets];
}

/** The four requests of the scenario: a success, a 401 + refresh + retry, a failover across accounts and providers, a failed refresh. */
async function runScenario(pool: Pool) {
  const { oauth, upstream } = pool;
  const served = await linesOf(pool);

  oauth.revokeAccessTokens('bob@example.com');
  const refreshed = await linesOf(pool);

  const reset = Math.floor(Date.now() / 1000) + 3600;
  upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset }) }, { kind: 'json', status: 500 });
  const failedOver = await linesOf(pool);

  oauth.revokeAccessTokens('bob@example.com');
  oauth.revokeRefreshToken('bob@example.com');
  const refreshFailed = await linesOf(pool);
  return { served, refreshed, failedOver, refreshFailed };
}

describe('log_level: DEBUG', () => {
  it('logs each upstream attempt, scheduler decision and refresh step, with names, statuses and reasons only', async ({ startPool }) => {
    const pool = await startScenario(startPool, 'DEBUG');
    const { served, refreshed, failedOver, refreshFailed } = await runScenario(pool);

    expect(served.status).toBe(200);
    expect(served.lines).toEqual([
      decision('alice@example.com', 'rotation', 2),
      attempt(POOL, 'alice@example.com', 'deliver', { status: 200 }),
    ]);

    // The 401's line is written once its verdict is known, i.e. after the refresh it caused.
    expect(refreshed.status).toBe(200);
    expect(refreshed.lines).toEqual([
      decision('bob@example.com', 'rotation', 2),
      { account: 'bob@example.com', trigger: 'refused', msg: 'refresh started' },
      { account: 'bob@example.com', msg: 'refresh right taken' },
      { account: 'bob@example.com', status: 200, msg: 'token endpoint answered' },
      { account: 'bob@example.com', rotated: true, msg: 'new tokens persisted' },
      { level: 'info', account: 'bob@example.com', msg: 'token refreshed' },
      attempt(POOL, 'bob@example.com', 'retry', { status: 401 }),
      decision('bob@example.com', 'retry_after_refresh', 1),
      attempt(POOL, 'bob@example.com', 'deliver', { status: 200 }),
    ]);

    expect(failedOver.status).toBe(200);
    expect(failedOver.lines).toEqual([
      decision('alice@example.com', 'rotation', 2),
      attempt(POOL, 'alice@example.com', 'retry', { status: 429 }),
      decision('bob@example.com', 'rotation', 1, { 'alice@example.com': 'tried' }),
      attempt(POOL, 'bob@example.com', 'retry', { status: 500 }),
      decision(undefined, 'none_left', 0, { 'alice@example.com': 'tried', 'bob@example.com': 'tried' }),
      attempt('down', undefined, 'next_provider', { error: 'connection refused' }),
      attempt('backup', undefined, 'deliver', { status: 200 }),
    ]);

    // alice is limited now, "down" cools down after its failure; bob's refresh token is dead.
    expect(refreshFailed.status).toBe(200);
    expect(refreshFailed.lines).toEqual([
      decision('bob@example.com', 'rotation', 1, { 'alice@example.com': 'rate_limited' }),
      { account: 'bob@example.com', trigger: 'refused', msg: 'refresh started' },
      { account: 'bob@example.com', msg: 'refresh right taken' },
      { account: 'bob@example.com', status: 400, error: 'invalid_grant', msg: 'token endpoint answered' },
      { account: 'bob@example.com', reason: 'invalid_grant: Refresh token not found or invalid', msg: 'refresh failed' },
      attempt(POOL, 'bob@example.com', 'retry', { status: 401 }),
      decision(undefined, 'none_left', 0, { 'alice@example.com': 'rate_limited', 'bob@example.com': 'tried' }),
      attempt('backup', undefined, 'deliver', { status: 200 }),
    ]);

    const all = pool.svc.logs.join('');
    const secrets = secretsOf(pool);
    // Two keys; alice's tokens; bob's first access and refresh tokens, and those of his refresh.
    expect(secrets).toHaveLength(8);
    for (const secret of secrets) expect(all).not.toContain(secret);
    // Nothing was even there to redact: no debug line carries a header, token or query string.
    const debugLines = pool.svc.logs.filter((l) => l.includes('"level":"debug"'));
    expect(debugLines).toHaveLength(2 + 8 + 7 + 8);
    for (const line of debugLines) expect(line).not.toMatch(/REDACTED|sk-ant-|Bearer|beta=true/);
    expect(all).not.toContain('beta=true');
  });

  it('says whether a conversation stayed on its account (session strategy)', async ({ startPool }) => {
    const pool = await startPool({ settings: { log_level: 'DEBUG' }, accounts: ['alice@example.com', 'bob@example.com'] });
    const session = { 'x-claude-code-session-id': 'conversation-1' };
    const reasons = [];
    for (const headers of [session, session, {}]) {
      const { lines } = await linesOf(pool, headers);
      reasons.push(lines.filter((l) => l.msg === 'scheduler decision').map((l) => `${l.strategy} ${l.account} ${l.reason}`));
    }
    expect(reasons).toEqual([
      ['session alice@example.com pin_new'],
      ['session alice@example.com pin_hit'],
      ['session bob@example.com no_session'],
    ]);
  });
});

describe('log_level: INFO', () => {
  it('writes none of the debug lines for the same requests', async ({ startPool }) => {
    const pool = await startScenario(startPool, 'INFO');
    const { served, refreshed, failedOver, refreshFailed } = await runScenario(pool);
    expect([served, refreshed, failedOver, refreshFailed].map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Only the info line that ends a refresh; no debug line.
    expect([served, refreshed, failedOver, refreshFailed].map((r) => r.lines.map((l) => l.msg))).toEqual([[], ['token refreshed'], [], []]);
    const lines = pool.svc.logs.map((l) => JSON.parse(l) as Line);
    expect(lines.filter((l) => l.level === 'debug' || DEBUG_MESSAGES.includes(String(l.msg)))).toEqual([]);
    expect(lines.filter((l) => l.msg === 'request' && l.path === '/v1/messages')).toHaveLength(4);
  });
});
