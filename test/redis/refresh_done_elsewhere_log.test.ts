// The DEBUG line "refresh done elsewhere; using its tokens": two real instances on one Redis, an
// expired token, one request on each at once. One instance refreshes; the other waits for the
// refresh right, finds the tokens already replaced, and says so.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { askThrough, loginThrough } from '../persistence/restarts.js';

const EMAIL = 'elsewhere@example.com';

describe('two instances on one Redis, log_level DEBUG', { timeout: 60_000 }, () => {
  let fakes: OAuthFakes;
  let redis: RedisServer;
  const procs: ServiceProcess[] = [];
  beforeAll(async () => {
    fakes = await startOAuthFakes();
    redis = await startRedisServer({ password: 'redis-pass-for-tests' });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await redis?.close();
    await fakes?.close();
  });

  it('the instance that waited for the refresh right logs "refresh done elsewhere; using its tokens"', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-elsewhere-')), 'providers.yaml');
    const oauth = oauthSettingsFor(fakes.oauth, {
      store: 'redis',
      redis_url: '${CCB_TEST_REDIS_URL}',
      redis_prefix: 'elsewhere:',
      encryption_key: '${CCB_TEST_KEY}',
      enable_auto_refresh: false,
      refresh_lead_seconds: 0,
    });
    writeFileSync(file, yaml.dump(configWith([oauthProvider(fakes.upstream.url)], { log_level: 'debug', oauth })));
    const env = { ...process.env, CCB_TEST_REDIS_URL: redis.url, CCB_TEST_KEY: randomBytes(32).toString('base64') };
    for (let i = 0; i < 2; i++) procs.push(await startServiceProcess(['--config', file, '--port', '0'], { env }));
    const [a, b] = procs;

    fakes.oauth.accessTokensTtlSeconds = 1;
    await loginThrough(fakes, a, EMAIL);
    const status = async () => ((await (await request(`${b.url}/oauth/status`)).body.json()) as { tokens: Array<{ expires_at: string }> }).tokens;
    await expect.poll(async () => (await status()).length, { timeout: 10_000, interval: 50 }).toBe(1);
    const expiresAt = Date.parse((await status())[0].expires_at);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
    fakes.oauth.accessTokensTtlSeconds = 28800;
    // The token endpoint holds the first refresh until both instances have started theirs, so the
    // other one is waiting for the refresh right while it is under way.
    const release = fakes.oauth.holdTokenCalls();
    const before = fakes.oauth.refreshCallsFor(EMAIL);
    const mark = new Map(procs.map((p) => [p, p.stdout().length]));
    const asked = Promise.all([askThrough(a), askThrough(b)]);
    const started = (p: ServiceProcess) => p.stdout().slice(mark.get(p)).split('\n').some((l) => l.includes('"msg":"refresh started"'));
    await expect.poll(() => started(a) && started(b), { timeout: 10_000, interval: 20 }).toBe(true);
    release();
    const answers = await asked;
    expect(answers).toEqual([
      { status: 200, account: EMAIL },
      { status: 200, account: EMAIL },
    ]);
    expect(fakes.oauth.refreshCallsFor(EMAIL) - before).toBe(1);

    const lines = (p: ServiceProcess) =>
      p
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'refresh done elsewhere; using its tokens')
        .map(({ level, account, msg }) => ({ level, account, msg }));
    // Log lines reach the pipes a moment after the answers.
    await expect.poll(() => [...lines(a), ...lines(b)], { timeout: 10_000, interval: 50 }).toEqual([{ level: 'debug', account: EMAIL, msg: 'refresh done elsewhere; using its tokens' }]);
  });
});
