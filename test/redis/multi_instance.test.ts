import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { unifiedHeaders } from '../fakes/fake-anthropic.js';
import { startServiceProcess, type ServiceProcess } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startHook } from '../support/webhook-receiver.js';
import { askThrough, loginThrough } from '../persistence/restarts.js';

const run = promisify(execFile);
const LOCK_TTL_MS = 1500;

/** Two (or more) real `serve` processes on one real redis-server (each test starts two or three: on a busy two-core machine that takes a while). */
describe('several instances on one Redis', { timeout: 60_000 }, () => {
  let fakes: OAuthFakes;
  let redis: RedisServer;
  const procs: ServiceProcess[] = [];
  let prefix = '';
  let n = 0;

  beforeAll(async () => {
    fakes = await startOAuthFakes();
    redis = await startRedisServer({ password: 'redis-pass-for-tests' });
  });
  afterEach(async () => {
    fakes.oauth.delayTokenMs = 0;
    fakes.oauth.accessTokensTtlSeconds = 28800;
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  });
  afterAll(async () => {
    await redis.close();
    await fakes.close();
  });

  function configFile(oauth: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): string {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-multi-')), 'providers.yaml');
    writeFileSync(
      file,
      yaml.dump(
        configWith([oauthProvider(fakes.upstream.url)], {
          ...settings,
          oauth: oauthSettingsFor(fakes.oauth, {
            store: 'redis',
            redis_url: '${CCB_TEST_REDIS_URL}',
            redis_prefix: prefix,
            encryption_key: '${CCB_TEST_KEY}',
            redis_lock_ttl_ms: LOCK_TTL_MS,
            strategy: 'round_robin',
            ...oauth,
          }),
        }),
      ),
    );
    return file;
  }
  const key = randomBytes(32).toString('base64');
  const env = () => ({ ...process.env, CCB_TEST_REDIS_URL: redis.url, CCB_TEST_KEY: key });
  async function start(file: string): Promise<ServiceProcess> {
    const proc = await startServiceProcess(['--config', file, '--port', '0'], { env: env() });
    procs.push(proc);
    return proc;
  }
  async function pair(oauth: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): Promise<[ServiceProcess, ServiceProcess]> {
    prefix = `m${++n}:`;
    const file = configFile(oauth, settings);
    return [await start(file), await start(file)];
  }
  const login = (proc: ServiceProcess, email: string) => loginThrough(fakes, proc, email);
  async function exchange(proc: ServiceProcess, code: string, status: number): Promise<void> {
    const res = await request(`${proc.url}/oauth/exchange-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    const body = await res.body.text();
    expect(res.statusCode, body).toBe(status);
  }
  const ask = askThrough;
  async function status(proc: ServiceProcess) {
    return (await (await request(`${proc.url}/oauth/status`)).body.json()) as {
      tokens: Array<{ account_email: string; expires_at: string; status: string }>;
    };
  }
  async function health(proc: ServiceProcess) {
    return (await (await request(`${proc.url}/health`)).body.json()) as { status: string; store: { kind: string; state: string } };
  }
  const redisCli = async (...args: string[]) => (await run('redis-cli', [...redis.cliArgs, ...args])).stdout;

  it('a login started on A and finished on B serves on both', async () => {
    const [a, b] = await pair();
    expect(a.stderr()).toContain(`store:    redis, Redis redis://:***@127.0.0.1:${redis.port}, prefix ${prefix}`);
    const generated = (await (await request(`${a.url}/oauth/generate-url`)).body.json()) as { login_url: string };
    const code = await fakes.oauth.approve(generated.login_url, 'shared@example.com');
    await exchange(b, code, 200);
    expect(await ask(b)).toEqual({ status: 200, account: 'shared@example.com' });
    await expect.poll(() => ask(a), { timeout: 1000, interval: 50 }).toEqual({ status: 200, account: 'shared@example.com' });
    // The code is spent, and the pending login is gone from both.
    await exchange(a, code, 400);
  });

  it('50 concurrent requests over A and B on an expired token make exactly one refresh call', async () => {
    const [a, b] = await pair({ enable_auto_refresh: false, refresh_lead_seconds: 0 });
    fakes.oauth.accessTokensTtlSeconds = 1;
    await login(a, 'burst@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(1);
    const expiresAt = Date.parse((await status(b)).tokens[0]!.expires_at);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
    fakes.oauth.accessTokensTtlSeconds = 28800;
    fakes.oauth.delayTokenMs = 300; // the refresh is still under way when the last request arrives
    const before = fakes.oauth.refreshCallsFor('burst@example.com');
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(i % 2 === 0 ? a : b)));
    expect(answers.filter((x) => x.status === 200).length).toBe(50);
    expect(fakes.oauth.refreshCallsFor('burst@example.com') - before).toBe(1);
    expect(fakes.oauth.refreshTokenReuses()).toBe(0);
  });

  it('timed refreshes due on both instances are made by one of them', async () => {
    const [a, b] = await pair({ refresh_lead_seconds: 0 });
    fakes.oauth.accessTokensTtlSeconds = 1;
    await login(a, 'timed@example.com');
    fakes.oauth.accessTokensTtlSeconds = 28800;
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(1);
    const first = (await status(a)).tokens[0]!.expires_at;
    // Both timers fire about 1 s after the login; the new token lives 8 h.
    await expect
      .poll(async () => [(await status(a)).tokens[0]!.expires_at, (await status(b)).tokens[0]!.expires_at].every((e) => e !== first), {
        timeout: 5000,
        interval: 100,
      })
      .toBe(true);
    expect(fakes.oauth.refreshCallsFor('timed@example.com')).toBe(1);
    expect((await ask(a)).status).toBe(200);
    expect((await ask(b)).status).toBe(200);
  });

  it('the lock holder killed mid-refresh: another instance refreshes after the lock expires, no login lost', async () => {
    const [a, b] = await pair({ enable_auto_refresh: false });
    await login(a, 'holder@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(1);
    fakes.oauth.delayTokenMs = 10_000;
    const calls = fakes.oauth.tokenCalls.length;
    void request(`${a.url}/oauth/refresh/holder@example.com`, { method: 'POST' }).catch(() => undefined);
    await expect.poll(() => fakes.oauth.tokenCalls.length, { timeout: 2000, interval: 20 }).toBe(calls + 1);
    expect(await redisCli('GET', `${prefix}lock:refresh:holder@example.com`)).toContain(`:${a.child.pid}:`);
    a.child.kill('SIGKILL');
    await a.exited;
    fakes.oauth.delayTokenMs = 0;

    const refreshed = await request(`${b.url}/oauth/refresh/holder@example.com`, { method: 'POST' });
    expect(refreshed.statusCode, await refreshed.body.text()).toBe(200);
    expect(await ask(b)).toEqual({ status: 200, account: 'holder@example.com' });
    // The killed holder's call never reached the token endpoint's processing: its refresh token was not spent.
    expect(fakes.oauth.tokenCalls[calls]!.status).toBe(0);
    expect(fakes.oauth.refreshTokenReuses()).toBe(0);
    const again = await start(configFile({ enable_auto_refresh: false }));
    expect(await ask(again)).toEqual({ status: 200, account: 'holder@example.com' });
  });

  it('a logout on B stops A using the account within 1 s', async () => {
    const [a, b] = await pair();
    await login(a, 'stay@example.com');
    await login(a, 'leave@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(2);
    const removed = await request(`${b.url}/oauth/tokens/leave@example.com`, { method: 'DELETE' });
    expect(removed.statusCode).toBe(200);
    await removed.body.dump();
    const loggedOutAt = Date.now();
    await expect
      .poll(async () => (await status(a)).tokens.map((t) => t.account_email), { timeout: 1000, interval: 20 })
      .toEqual(['stay@example.com']);
    expect(Date.now() - loggedOutAt).toBeLessThan(1000);
    for (let i = 0; i < 4; i++) expect(await ask(a)).toEqual({ status: 200, account: 'stay@example.com' });
  });

  it('a needs_login verdict on A reaches B within 1 s', async () => {
    const [a, b] = await pair({ enable_auto_refresh: false });
    await login(a, 'refused@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(1);
    fakes.oauth.revokeRefreshToken('refused@example.com');
    const refused = await request(`${a.url}/oauth/refresh/refused@example.com`, { method: 'POST' });
    expect(refused.statusCode).toBe(502);
    await refused.body.dump();
    expect((await status(a)).tokens[0]!.status).toBe('needs_login');
    await expect.poll(async () => (await status(b)).tokens[0]!.status, { timeout: 1000, interval: 20 }).toBe('needs_login');
    expect(fakes.oauth.refreshCallsFor('refused@example.com')).toBe(1);
  });

  it('a rate-limit bench on A keeps B off the account within 1 s, until the reset', async () => {
    const [a, b] = await pair();
    await login(a, 'one@example.com');
    await login(a, 'two@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(2);
    const reset = Math.floor(Date.now() / 1000) + 3600;
    fakes.upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset, claim: 'five_hour', util5h: 1.01 }) });
    const served = await ask(a); // the 429 benches one account; the request goes on with the other
    expect(served.status).toBe(200);
    const benched = served.account === 'one@example.com' ? 'two@example.com' : 'one@example.com';
    const statusOf = async (proc: ServiceProcess) => (await status(proc)).tokens.find((t) => t.account_email === benched)!.status;
    expect(await statusOf(a)).toBe('rate_limited');
    await expect.poll(() => statusOf(b), { timeout: 1000, interval: 20 }).toBe('rate_limited');
    for (let i = 0; i < 4; i++) expect(await ask(b)).toEqual({ status: 200, account: served.account });
    // An instance started later learns of the bench from Redis.
    const later = await start(configFile());
    expect(await statusOf(later)).toBe('rate_limited');
  });

  it('a rate limit seen on A is alerted once, by A, though B adopts the bench', async () => {
    const hook = await startHook();
    try {
      const [a, b] = await pair({}, { notify: { webhook_url: hook.url, events: ['rate_limited'] } });
      await login(a, 'one@example.com');
      await login(a, 'two@example.com');
      await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(2);
      const reset = Math.floor(Date.now() / 1000) + 3600;
      fakes.upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset, claim: 'five_hour', util5h: 1.01 }) });
      const served = await ask(a);
      const benched = served.account === 'one@example.com' ? 'two@example.com' : 'one@example.com';
      await expect.poll(async () => (await status(b)).tokens.find((t) => t.account_email === benched)!.status, { timeout: 1000, interval: 20 }).toBe('rate_limited');
      await expect.poll(() => hook.received.length, { timeout: 2000, interval: 20 }).toBe(1);
      // B has had the bench for a while now (its status said so): an alert of its own would be here.
      await ask(b);
      await new Promise((r) => setTimeout(r, 300));
      expect(hook.received.map((r) => [r.body.event, r.body.account])).toEqual([['rate_limited', benched]]);
    } finally {
      await hook.close();
    }
  });

  it('a conversation pinned on A stays on its account when it reaches B', async () => {
    const [a, b] = await pair({ strategy: 'session' });
    await login(a, 'first@example.com');
    await login(a, 'second@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(2);
    // B's rotation moves past the first account, so a conversation new to B would go to the second.
    expect((await ask(b, 'conversation-on-b')).account).toBe('first@example.com');
    const onA = await ask(a, 'conversation-on-a');
    expect(onA).toEqual({ status: 200, account: 'first@example.com' });
    // A shares its pin after answering. Asking B before the pin is in Redis would pin the
    // conversation on B by B's rotation instead (and move that rotation on): wait for both pins.
    await expect.poll(async () => (await redisCli('--scan', '--pattern', `${prefix}pin:*`)).trim().split('\n').length, { timeout: 1000, interval: 20 }).toBe(2);
    await expect.poll(() => ask(b, 'conversation-on-a'), { timeout: 1000, interval: 50 }).toEqual(onA);
    for (let i = 0; i < 3; i++) expect(await ask(b, 'conversation-on-a')).toEqual(onA);
    // A conversation B has never seen, for contrast.
    expect((await ask(b, 'conversation-new')).account).toBe('second@example.com');
  });

  it('Redis lost while running: served from memory, /health says so, one log line; back: resynced and written back', async () => {
    const [a, b] = await pair();
    await login(a, 'mem@example.com');
    await expect.poll(async () => (await status(b)).tokens.length, { timeout: 1000, interval: 50 }).toBe(1);
    await redis.stop();
    await expect.poll(async () => (await health(a)).store, { timeout: 5000, interval: 50 }).toEqual({ kind: 'redis', state: 'disconnected' });
    expect((await health(a)).status).toBe('degraded');
    for (let i = 0; i < 3; i++) {
      expect(await ask(a)).toEqual({ status: 200, account: 'mem@example.com' });
      expect(await ask(b)).toEqual({ status: 200, account: 'mem@example.com' });
    }
    await new Promise((r) => setTimeout(r, 1000)); // several reconnect attempts fail meanwhile
    expect(a.stdout().match(/lost the connection to Redis/g)).toHaveLength(1);

    await redis.restart(); // empty: nothing was persisted
    await expect.poll(async () => (await health(a)).store.state, { timeout: 5000, interval: 50 }).toBe('connected');
    await expect.poll(async () => (await health(b)).store.state, { timeout: 5000, interval: 50 }).toBe('connected');
    await expect.poll(() => redisCli('SMEMBERS', `${prefix}accounts`), { timeout: 2000, interval: 50 }).toBe('mem@example.com\n');
    // Changes propagate again.
    await login(b, 'after@example.com');
    await expect
      .poll(async () => (await status(a)).tokens.map((t) => t.account_email).sort(), { timeout: 1000, interval: 20 })
      .toEqual(['after@example.com', 'mem@example.com']);
  });

  it('no token, verifier or state appears in any key or value in Redis', async () => {
    const [a] = await pair();
    await login(a, 'sealed@example.com');
    const generated = (await (await request(`${a.url}/oauth/generate-url`)).body.json()) as { state: string };
    const refreshToken = fakes.oauth.currentRefreshToken('sealed@example.com')!;
    const accessTokens = [...fakes.oauth.liveTokens];
    const keys = (await redisCli('--scan', '--pattern', `${prefix}*`)).split('\n').filter(Boolean);
    // The account, the index, and pending logins (this one and the banner logins of both instances).
    expect(keys.filter((k) => !k.startsWith(`${prefix}login:`)).sort()).toEqual([`${prefix}account:sealed@example.com`, `${prefix}accounts`]);
    expect(keys.filter((k) => k.startsWith(`${prefix}login:`)).length).toBeGreaterThanOrEqual(1);
    let everything = keys.join('\n');
    for (const k of keys) {
      everything += await redisCli('--no-raw', 'DUMP', k);
      const type = (await redisCli('TYPE', k)).trim();
      everything += await redisCli(...(type === 'hash' ? ['HGETALL', k] : type === 'set' ? ['SMEMBERS', k] : ['GET', k]));
    }
    for (const secret of [refreshToken, ...accessTokens, generated.state]) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.slice(14, 40));
    }
    expect(everything).toContain('ccb1.');
  });
});
