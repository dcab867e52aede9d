import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTokenStore } from '../../src/store/file-store.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { createTokenStore, type StoreSettings } from '../../src/store/select-store.js';
import { clientEnv, startLockedSecretService, startSecretService, type SecretService } from '../support/secret-service.js';
import { runStoreChild } from './child/run-child.js';

const settings = (overrides: Partial<StoreSettings>): StoreSettings => ({
  enable_persistence: true,
  service_name: 'ccb-select-test',
  store: 'auto',
  ...overrides,
});

let home: string;
const running: SecretService[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ccb-select-'));
});
afterEach(async () => {
  for (const service of running.splice(0)) await service.stop();
  await rm(home, { recursive: true, force: true });
});

describe('createTokenStore', () => {
  it('keeps accounts in memory when persistence is off, whatever the store setting', async () => {
    const { store, reason } = await createTokenStore(settings({ enable_persistence: false, store: 'keyring' }));
    expect(store).toBeInstanceOf(MemoryTokenStore);
    expect(reason).toMatch(/persistence disabled/);
  });

  it('uses the file at file_path, or the XDG default, for store: file', async () => {
    const configured = await createTokenStore(settings({ store: 'file', file_path: join(home, 'a.json') }));
    expect(configured.store).toBeInstanceOf(FileTokenStore);
    expect(configured.store.location).toBe(join(home, 'a.json'));

    const byDefault = await createTokenStore(settings({ store: 'file' }), { env: { XDG_DATA_HOME: home } });
    expect(byDefault.store.location).toBe(join(home, 'claude-code-balancer', 'accounts.json'));
    expect(byDefault.reason).toContain(byDefault.store.location);
  });

  describe('in a process without a D-Bus', () => {
    const noBus = () => clientEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${home}/no-bus`, XDG_RUNTIME_DIR: home, HOME: home });

    it('auto falls back to the file store and says why', async () => {
      const [created] = await runStoreChild(noBus(), [{ op: 'create', settings: settings({ file_path: join(home, 'a.json') }) }]);
      expect(created).toMatchObject({ ok: true, value: { kind: 'file', location: join(home, 'a.json') } });
      const { reason } = (created as { value: { reason: string } }).value;
      expect(reason).toMatch(/^keyring unavailable: .*Could not connect/);
      expect(reason).toMatch(new RegExp(`; using file ${join(home, 'a.json')}$`));
      expect(created!.ms).toBeLessThan(2500);
    }, 20_000);

    it('store: keyring throws the StoreError', async () => {
      const [created] = await runStoreChild(noBus(), [{ op: 'create', settings: settings({ store: 'keyring' }) }]);
      expect(created).toMatchObject({ ok: false, error: { name: 'StoreError', code: 'unavailable' } });
      expect(created!.ms).toBeLessThan(2500);
    }, 20_000);
  });

  it('auto falls back to the file store when the Secret Service does not answer in time', async () => {
    const socket = join(home, 'silent-bus');
    const silent = createServer((connection) => connection.resume());
    await new Promise<void>((resolve) => silent.listen(socket, resolve));
    try {
      const env = clientEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, XDG_RUNTIME_DIR: home });
      const [created] = await runStoreChild(env, [
        { op: 'create', settings: settings({ file_path: join(home, 'a.json') }), probeTimeoutMs: 300 },
      ]);
      expect(created).toMatchObject({ ok: true, value: { kind: 'file', reason: expect.stringMatching(/did not answer within 300 ms/) } });
      expect(created!.ms).toBeLessThan(1000);
    } finally {
      silent.close();
    }
  }, 20_000);

  it('auto uses the keyring when a Secret Service answers', async () => {
    const service = await startSecretService({ home, password: 'pw', unlock: true });
    running.push(service);
    const [created] = await runStoreChild(clientEnv(service.env), [{ op: 'create', settings: settings({}) }]);
    expect(created).toMatchObject({
      ok: true,
      value: { kind: 'keyring', location: 'keyring service "ccb-select-test"', reason: expect.stringMatching(/keyring available/) },
    });
  }, 20_000);

  it('auto refuses a locked keyring rather than hiding its accounts behind an empty file', async () => {
    const locked = await startLockedSecretService({ home, password: 'pw' });
    running.push(locked);
    const [auto, keyring] = await runStoreChild(clientEnv(locked.env), [
      { op: 'create', settings: settings({}) },
      { op: 'create', settings: settings({ store: 'keyring' }) },
    ]);
    expect(auto).toMatchObject({ ok: false, error: { code: 'locked' } });
    expect(keyring).toMatchObject({ ok: false, error: { code: 'locked' } });
  }, 20_000);
});
