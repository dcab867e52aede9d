// Client keys (#10.3): created at run time through /admin/keys (the value shown once, a hash
// stored), listed without values, removed; the keys CLI; passthrough with keys is a config error.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_KEYS_DOCUMENT } from '../../src/access/client-keys.js';
import { ConfigError } from '../../src/config/load.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { admin, postMessage } from '../support/pool.js';
import { runCli, startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

const CONFIG_KEY = 'config-key-0123456789abcdefghij';
const passthrough = (url: string) => ({ name: 'pass', type: 'anthropic', base_url: url, auth_type: 'api_key', auth_value: 'passthrough' });

let upstream: FakeAnthropic | undefined;
let svc: RunningService | undefined;
afterEach(async () => {
  await svc?.close();
  await upstream?.close();
  svc = upstream = undefined;
});

async function start(settings: Record<string, unknown> = {}, store = new MemoryTokenStore()) {
  upstream = await startFakeAnthropic();
  svc = await startService({ config: configWith([apiKeyProvider('p', upstream.url)], settings), store, env: { ...process.env, LAPTOP_KEY: CONFIG_KEY } });
  return svc;
}

describe('/admin/keys', () => {
  it('creates a key shown once, stores only its SHA-256, lists names and times, removes it', async () => {
    const store = new MemoryTokenStore();
    const { url } = await start({ client_keys: [{ name: 'laptop', key: '${LAPTOP_KEY}' }] }, store);
    expect((await postMessage(url, { headers: { authorization: `Bearer ${CONFIG_KEY}` } })).status).toBe(200);

    const created = await admin(url, 'POST', '/admin/keys', { body: { name: 'ci-runner' } });
    expect(created.status).toBe(201);
    const key = created.json.key as string;
    expect(key).toMatch(/^ccb-[A-Za-z0-9_-]{43}$/);
    expect(created.json.name).toBe('ci-runner');

    const stored = JSON.stringify(await store.loadDocument(CLIENT_KEYS_DOCUMENT));
    expect(stored).not.toContain(key);
    expect(stored).toContain(createHash('sha256').update(key).digest('hex'));
    expect(stored).not.toContain(CONFIG_KEY);

    expect((await postMessage(url, { headers: { 'x-api-key': key } })).status).toBe(200);
    const listed = await admin(url, 'GET', '/admin/keys');
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(key);
    expect(listed.text).not.toContain(CONFIG_KEY);
    expect(listed.json.keys).toEqual([
      { name: 'laptop', source: 'config', created_at: null, last_used_at: expect.stringMatching(/^\d{4}-/) },
      { name: 'ci-runner', source: 'created', created_at: created.json.created_at, last_used_at: expect.stringMatching(/^\d{4}-/) },
    ]);

    expect((await admin(url, 'POST', '/admin/keys', { body: { name: 'ci-runner' } })).status).toBe(409);
    expect((await admin(url, 'POST', '/admin/keys', { body: { name: 'laptop' } })).status).toBe(409);
    expect((await admin(url, 'POST', '/admin/keys', { body: { name: 'bad name/..' } })).status).toBe(400);
    expect((await admin(url, 'POST', '/admin/keys', { body: {} })).status).toBe(400);
    expect((await admin(url, 'DELETE', '/admin/keys/laptop')).status).toBe(409);
    expect((await admin(url, 'DELETE', '/admin/keys/nobody')).status).toBe(404);

    expect((await admin(url, 'DELETE', '/admin/keys/ci-runner')).status).toBe(200);
    expect((await postMessage(url, { headers: { 'x-api-key': key } })).status).toBe(401);
    expect(await store.loadDocument(CLIENT_KEYS_DOCUMENT)).toEqual({ keys: [] });
    // The key value never reached a log line.
    expect(svc!.logs.join('')).not.toContain(key);
  });

  it('keeps created keys and their last use across a restart over the same store', async () => {
    const store = new MemoryTokenStore();
    const first = await start({}, store);
    const key = (await admin(first.url, 'POST', '/admin/keys', { body: { name: 'desk' } })).json.key as string;
    expect((await postMessage(first.url)).status).toBe(401);
    expect((await postMessage(first.url, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    const used = (await admin(first.url, 'GET', '/admin/keys')).json.keys[0].last_used_at;
    await first.close();

    svc = await startService({ config: configWith([apiKeyProvider('p', upstream!.url)]), store });
    expect((await postMessage(svc.url)).status).toBe(401);
    const listed = (await admin(svc.url, 'GET', '/admin/keys')).json.keys;
    expect(listed).toEqual([{ name: 'desk', source: 'created', created_at: expect.any(String), last_used_at: used }]);
    expect((await postMessage(svc.url, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
  });
});

describe('passthrough with client keys', () => {
  it('is a config error at startup (exit 2) when settings.client_keys is set', async () => {
    upstream = await startFakeAnthropic();
    const dir = mkdtempSync(join(tmpdir(), 'ccb-keys-'));
    const file = join(dir, 'providers.yaml');
    writeFileSync(file, yaml.dump(configWith([passthrough(upstream.url)], { port: 0, client_keys: [{ name: 'a', key: CONFIG_KEY }], oauth: { enable_persistence: false } })));
    const res = await runCli(['serve', '--config', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${file}:6:5: providers[0].auth_value: "passthrough" cannot be used with client keys`);
  });

  it('refuses to create a key, to start, or to reload into passthrough once keys were created', async () => {
    const store = new MemoryTokenStore();
    const { url } = await start({}, store);
    await admin(url, 'POST', '/admin/keys', { body: { name: 'desk' } });

    svc!.writeConfig(configWith([passthrough(upstream!.url)]));
    const reload = await admin(url, 'POST', '/admin/reload');
    expect(reload.status).toBe(400);
    expect(reload.json.errors[0]).toMatch(/providers\[0\]\.auth_value: "passthrough" cannot be used with client keys/);
    expect(svc!.service.config.providers[0].name).toBe('p');

    await expect(startService({ config: configWith([passthrough(upstream!.url)]), store })).rejects.toBeInstanceOf(ConfigError);

    await svc!.close();
    svc = await startService({ config: configWith([passthrough(upstream!.url)]), store: new MemoryTokenStore() });
    const refused = await admin(svc.url, 'POST', '/admin/keys', { body: { name: 'desk' } });
    expect(refused.status).toBe(409);
    expect(refused.json.message).toMatch(/passthrough/);
  });
});

describe('the keys CLI against a running service', () => {
  it('keys add prints the key once; list shows names; remove takes it away', async () => {
    upstream = await startFakeAnthropic();
    const dir = mkdtempSync(join(tmpdir(), 'ccb-keys-cli-'));
    const file = join(dir, 'providers.yaml');
    const accounts = join(dir, 'accounts.json');
    writeFileSync(file, yaml.dump(configWith([apiKeyProvider('p', upstream.url)], { oauth: { store: 'file', file_path: accounts } })));
    const proc = await startServiceProcess(['--config', file, '--port', '0']);
    try {
      const add = await runCli(['keys', 'add', 'laptop', '--url', proc.url]);
      expect(add.code).toBe(0);
      const key = add.stdout.split('\n')[0];
      expect(key).toMatch(/^ccb-[A-Za-z0-9_-]{43}$/);
      expect(add.stdout).toContain('only time it is shown');
      expect(readFileSync(accounts, 'utf8')).not.toContain(key);

      const list = await runCli(['keys', 'list', '--url', proc.url]);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/^NAME\s+FROM\s+CREATED\s+LAST USED$/m);
      expect(list.stdout).toMatch(/^laptop\s+keys add\s+\d{4}-\S+\s+never$/m);
      expect(list.stdout).not.toContain(key);

      const served = await request(`${proc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 1, messages: [] }),
      });
      await served.body.text();
      expect(served.statusCode).toBe(200);
      await proc.waitForStdout(/"client_key":"laptop"/);
      expect(proc.stdout()).not.toContain(key);

      const dup = await runCli(['keys', 'add', 'laptop', '--url', proc.url]);
      expect(dup.code).toBe(1);
      expect(dup.stderr).toMatch(/exists/);

      const remove = await runCli(['keys', 'remove', 'laptop', '--url', proc.url]);
      expect(remove.code).toBe(0);
      expect((await runCli(['keys', 'list', '--url', proc.url])).stdout).toMatch(/No client keys/);
      expect((await runCli(['keys', 'remove', 'laptop', '--url', proc.url])).code).toBe(1);
      expect((await runCli(['keys', 'frobnicate', '--url', proc.url])).code).toBe(1);
    } finally {
      await proc.stop();
    }
  }, 60_000); // nine node processes in a row: a loaded two-core machine needs more than the default

  it('a service on a non-loopback host starts without keys, says so, and /v1 answers 401', async () => {
    upstream = await startFakeAnthropic();
    const dir = mkdtempSync(join(tmpdir(), 'ccb-keys-exposed-'));
    const file = join(dir, 'providers.yaml');
    writeFileSync(file, yaml.dump(configWith([apiKeyProvider('p', upstream.url)], { admin_token: 'an-admin-token-0123456789', oauth: { enable_persistence: false } })));
    const proc = await startServiceProcess(['--config', file, '--port', '0', '--host', '0.0.0.0']);
    try {
      expect(proc.stderr()).toMatch(/client keys: none yet; \/v1 answers 401 until you create one: node \S+\/dist\/cli\.js keys add <name>/);
      const res = await postMessage(proc.url);
      expect(res.status).toBe(401);
      expect(res.json.error.message).toMatch(/keys add/);
      expect(upstream.requests.length).toBe(0);
    } finally {
      await proc.stop();
    }
  });
});
