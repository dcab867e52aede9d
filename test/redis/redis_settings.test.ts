import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { runCli } from '../support/cli.js';
import { startRedisServer } from '../support/redis-server.js';

const providers = [{ name: 'main', base_url: 'https://api.anthropic.com', auth_type: 'auth_token', auth_value: 'oauth' }];
const key = randomBytes(32).toString('base64');

function problems(oauth: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml.dump({ providers, settings: { oauth } }), 'p.yaml', env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('settings.oauth for store: redis', () => {
  it('defaults leave the single-machine store as it was', () => {
    const config = parseConfig(yaml.dump({ providers }), 'p.yaml', {});
    expect(config.settings.oauth).toMatchObject({ store: 'auto', redis_prefix: 'ccb:', allow_plaintext_redis: false });
    expect(config.settings.oauth.redis_url).toBeUndefined();
  });

  it('takes redis_url and encryption_key from the environment', () => {
    const config = parseConfig(
      yaml.dump({ providers, settings: { oauth: { store: 'redis', redis_url: '${REDIS_URL}', encryption_key: '${CCB_KEY}' } } }),
      'p.yaml',
      { REDIS_URL: 'rediss://:pw@redis.internal:6380/1', CCB_KEY: key },
    );
    expect(config.settings.oauth).toMatchObject({ store: 'redis', redis_url: 'rediss://:pw@redis.internal:6380/1', encryption_key: key });
  });

  it('needs a redis_url, and a redis:// or rediss:// one', () => {
    expect(problems({ store: 'redis', encryption_key: key })).toEqual(['p.yaml:7:3: settings.oauth.redis_url: required with store: redis']);
    expect(problems({ store: 'redis', redis_url: 'http://x:6379', encryption_key: key })).toEqual([
      'p.yaml:9:5: settings.oauth.redis_url: must be a redis:// or rediss:// URL',
    ]);
  });

  it('refuses to store tokens unencrypted unless allow_plaintext_redis says so', () => {
    const [problem] = problems({ store: 'redis', redis_url: 'redis://127.0.0.1:6379' });
    expect(problem).toMatch(/^p\.yaml:7:3: settings\.oauth\.encryption_key: required with store: redis, so that tokens are encrypted/);
    expect(problems({ store: 'redis', redis_url: 'redis://127.0.0.1:6379', allow_plaintext_redis: true })).toEqual([]);
  });

  it('an encryption_key must be 32 bytes, base64 or hex; the message never shows it', () => {
    const short = randomBytes(16).toString('hex');
    const found = problems({ store: 'redis', redis_url: 'redis://h:1', encryption_key: short });
    expect(found).toEqual(['p.yaml:10:5: settings.oauth.encryption_key: must be 32 bytes, as base64 or hex (e.g. `openssl rand -base64 32`)']);
    expect(found.join()).not.toContain(short);
    expect(problems({ store: 'redis', redis_url: 'redis://h:1', encryption_key: randomBytes(32).toString('hex') })).toEqual([]);
  });
});

describe('serve with store: redis', () => {
  const configFor = (oauth: Record<string, unknown>) => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-redis-cfg-')), 'providers.yaml');
    writeFileSync(file, yaml.dump({ providers, settings: { oauth } }));
    return file;
  };

  it('Redis down at startup: exit 1 naming the URL (without its password) and the error', async () => {
    const redis = await startRedisServer();
    const port = redis.port;
    await redis.close();
    const file = configFor({ store: 'redis', redis_url: `redis://:s3cret-pass@127.0.0.1:${port}/0`, encryption_key: key });
    const result = await runCli(['serve', '--config', file, '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Token store: cannot reach Redis at redis://:***@127.0.0.1:${port}/0 (settings.oauth.redis_url): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(result.stderr).not.toContain('s3cret-pass');
    expect(result.stderr).not.toMatch(/listening/);
  });

  it('without an encryption key or allow_plaintext_redis: exit 2, the config names what to set', async () => {
    const result = await runCli(['serve', '--config', configFor({ store: 'redis', redis_url: 'redis://127.0.0.1:1' }), '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/settings\.oauth\.encryption_key: required with store: redis/);
  });
});
