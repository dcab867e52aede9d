// Found in review (#10.3): a key created with `keys add ci` and a settings.client_keys entry also
// named "ci" made two keys of one name. `keys remove ci` then answered 409 ("set in
// settings.client_keys") and the created key, say a leaked one, kept working; the log line's
// client_key could not tell the two apart. A config that reuses a created key's name is refused.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { admin, postMessage } from '../support/pool.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';
import { cliCommand } from '../../src/hints/cli-command.js';

const CONFIG_KEY = 'config-key-0123456789abcdefghij';

let upstream: FakeAnthropic | undefined;
let svc: RunningService | undefined;
afterEach(async () => {
  await svc?.close();
  await upstream?.close();
  svc = upstream = undefined;
});

describe('a config key named like a created key', () => {
  it('is refused on reload; the created key stays removable and stops working when removed', async () => {
    upstream = await startFakeAnthropic();
    const store = new MemoryTokenStore();
    svc = await startService({ config: configWith([apiKeyProvider('p', upstream.url)]), store });
    const created = await admin(svc.url, 'POST', '/admin/keys', { body: { name: 'ci' } });
    expect(created.status).toBe(201);
    const key = created.json.key as string;

    svc.writeConfig(configWith([apiKeyProvider('p', upstream.url)], { client_keys: [{ name: 'ci', key: CONFIG_KEY }] }));
    const reload = await admin(svc.url, 'POST', '/admin/reload');
    expect(reload.status).toBe(400);
    expect(reload.json.errors).toEqual([
      `${svc.configPath}: settings.client_keys[0].name: "ci" is the name of a key created with \`${cliCommand('keys add')}\`; choose another name, or remove that key first (${cliCommand('keys remove ci')})`,
    ]);
    expect(svc.service.config.settings.client_keys).toEqual([]);
    expect((await postMessage(svc.url, { headers: { authorization: `Bearer ${CONFIG_KEY}` } })).status).toBe(401);

    const removed = await admin(svc.url, 'DELETE', '/admin/keys/ci');
    expect(removed.status).toBe(200);
    expect((await postMessage(svc.url, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    // No key left at all: /v1 on loopback is open again, so the removed key is judged by a second key.
    await admin(svc.url, 'POST', '/admin/keys', { body: { name: 'other' } });
    expect((await postMessage(svc.url, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
  });

  it('is a config error at startup over a store that holds the created key', async () => {
    upstream = await startFakeAnthropic();
    const store = new MemoryTokenStore();
    svc = await startService({ config: configWith([apiKeyProvider('p', upstream.url)]), store });
    expect((await admin(svc.url, 'POST', '/admin/keys', { body: { name: 'ci' } })).status).toBe(201);
    await svc.close();
    svc = undefined;
    const started = startService({ config: configWith([apiKeyProvider('p', upstream.url)], { client_keys: [{ name: 'ci', key: CONFIG_KEY }] }), store });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toMatchObject({ problems: [expect.stringContaining('settings.client_keys[0].name: "ci" is the name of a key created')] });
  });
});
