// Against a real gnome-keyring on a private D-Bus (see test/support/secret-service.ts). keytar binds
// to the bus of its process's environment once, so every keyring access runs in a fresh child
// process with that bus in its environment. Without dbus/gnome-keyring/secret-tool these tests fail.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccountRecord } from '../../src/store/account-record.js';
import {
  clientEnv,
  secretToolSearch,
  startLockedSecretService,
  startSecretService,
  startSessionBus,
  type SecretService,
} from '../support/secret-service.js';
import { account } from './accounts.js';
import type { ChildResult } from './child/store-child.js';
import { runStoreChild } from './child/run-child.js';

const SERVICE = 'ccb-test';
const PASSWORD = 'test-keyring-password';
const alice = account('Alice@Example.com', { usage_count: 3 });
const bob = account('bob@example.com', { refresh_token: null });

let home: string;
const running: SecretService[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ccb-keyring-'));
});
afterEach(async () => {
  for (const service of running.splice(0)) await service.stop();
  await rm(home, { recursive: true, force: true });
});

async function start(unlock = true): Promise<SecretService> {
  const service = await startSecretService({ home, password: PASSWORD, unlock });
  running.push(service);
  return service;
}

const byEmail = (accounts: AccountRecord[]) => [...accounts].sort((a, b) => a.email.localeCompare(b.email));
const value = (result: ChildResult | undefined) => {
  if (!result?.ok) throw new Error(`child op failed: ${JSON.stringify(result)}`);
  return result.value;
};
const failure = (result: ChildResult | undefined) => {
  if (!result || result.ok) throw new Error(`child op did not fail: ${JSON.stringify(result)}`);
  return result.error;
};

describe('KeyringTokenStore on a real gnome-keyring', () => {
  it('stores one item per account and reads them back in another process', async () => {
    const { env } = await start();
    await runStoreChild(clientEnv(env), [
      { op: 'save', service: SERVICE, account: alice },
      { op: 'save', service: SERVICE, account: bob },
    ]).then((results) => results.forEach(value));

    const listed = await secretToolSearch(env, { service: SERVICE });
    expect(listed.locked).toBe(0);
    expect(listed.items.map((i) => i.label).sort()).toEqual([`${SERVICE}/alice@example.com`, `${SERVICE}/bob@example.com`]);
    expect(byEmail(listed.items.map((i) => JSON.parse(i.secret!) as AccountRecord))).toEqual([alice, bob]);

    const [loaded, removed, reloaded] = await runStoreChild(clientEnv(env), [
      { op: 'load', service: SERVICE },
      { op: 'remove', service: SERVICE, email: 'ALICE@example.com' },
      { op: 'load', service: SERVICE },
    ]);
    expect(byEmail(value(loaded) as AccountRecord[])).toEqual([alice, bob]);
    value(removed);
    expect(value(reloaded)).toEqual([bob]);
    expect((await secretToolSearch(env, { service: SERVICE })).items.map((i) => i.label)).toEqual([
      `${SERVICE}/bob@example.com`,
    ]);
  }, 20_000);

  it('refuses a locked keyring instead of reading it as empty, and touches nothing', async () => {
    const locked = await startLockedSecretService({
      home,
      password: PASSWORD,
      seed: async (env) => {
        const results = await runStoreChild(clientEnv(env), [
          { op: 'save', service: SERVICE, account: alice },
          { op: 'save', service: SERVICE, account: bob },
        ]);
        results.forEach(value);
      },
    });
    running.push(locked);
    // What secret-tool sees: both items are there, and locked.
    expect(await secretToolSearch(locked.env, { service: SERVICE })).toMatchObject({ locked: 2 });

    const results = await runStoreChild(clientEnv(locked.env), [
      { op: 'load', service: SERVICE },
      { op: 'save', service: SERVICE, account: account('carol@example.com') },
      { op: 'remove', service: SERVICE, email: alice.email },
    ]);
    for (const result of results) {
      const error = failure(result);
      expect(error.code).toBe('locked');
      expect(error.message).toMatch(/keyring is locked/);
      expect(error.message).toMatch(/unlock it/i);
      expect(error.message).toMatch(/stored accounts were not touched/);
    }
    expect(results[0]!.ms).toBeLessThan(2000);

    await locked.stop();
    const { env } = await start(true);
    expect((await secretToolSearch(env, { service: SERVICE })).locked).toBe(0);
    const [loaded] = await runStoreChild(clientEnv(env), [{ op: 'load', service: SERVICE }]);
    expect(byEmail(value(loaded) as AccountRecord[])).toEqual([alice, bob]);
  }, 20_000);

  it('reports an item that is not an account as corrupt and leaves it alone', async () => {
    const { env } = await start();
    // keytar only finds items of its schema, named in the xdg:schema attribute.
    const attributes = ['xdg:schema', 'org.freedesktop.Secret.Generic', 'service', SERVICE, 'account', 'junk@example.com'];
    execFileSync('secret-tool', ['store', '--label=junk', ...attributes], { env: clientEnv(env), input: 'not json' });
    const [save, load] = await runStoreChild(clientEnv(env), [
      { op: 'save', service: SERVICE, account: alice },
      { op: 'load', service: SERVICE },
    ]);
    value(save);
    const error = failure(load);
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('account="junk@example.com"');
    expect(error.message).toContain('secret-tool clear');
    expect((await secretToolSearch(env, { service: SERVICE })).items).toHaveLength(2);
  }, 20_000);

  it('fails fast with "unavailable" when there is no D-Bus', async () => {
    const env = clientEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${home}/no-bus`, XDG_RUNTIME_DIR: home });
    const [load, save, probe] = await runStoreChild(env, [
      { op: 'load', service: SERVICE },
      { op: 'save', service: SERVICE, account: alice },
      { op: 'probe', service: SERVICE },
    ]);
    for (const result of [load, save]) {
      const error = failure(result);
      expect(error.code).toBe('unavailable');
      expect(error.message).toMatch(/Secret Service/);
      expect(error.message).toMatch(/gnome-keyring/);
      expect(error.message).toMatch(/dbus-run-session/);
      expect(result!.ms).toBeLessThan(1000);
    }
    expect(value(probe)).toMatchObject({ ok: false, code: 'unavailable' });
    expect(probe!.ms).toBeLessThan(1000);
  }, 20_000);

  it('fails fast with "unavailable" when the bus has no Secret Service', async () => {
    const bus = await startSessionBus({ home });
    running.push(bus);
    const [load, probe] = await runStoreChild(clientEnv(bus.env), [
      { op: 'load', service: SERVICE },
      { op: 'probe', service: SERVICE },
    ]);
    const error = failure(load);
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/org\.freedesktop\.secrets was not provided/);
    expect(error.message).toMatch(/gnome-keyring/);
    expect(load!.ms).toBeLessThan(1000);
    expect(value(probe)).toMatchObject({ ok: false, code: 'unavailable' });
  }, 20_000);

  it('gives up after its timeout when the bus accepts connections but never answers', async () => {
    const socket = join(home, 'silent-bus');
    const silent = createServer((connection) => connection.resume());
    await new Promise<void>((resolve) => silent.listen(socket, resolve));
    try {
      const env = clientEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, XDG_RUNTIME_DIR: home });
      const [probe, load] = await runStoreChild(env, [
        { op: 'probe', service: SERVICE, timeoutMs: 300 },
        { op: 'load', service: SERVICE, timeoutMs: 300 },
      ]);
      expect(value(probe)).toMatchObject({ ok: false, code: 'unavailable', reason: expect.stringMatching(/did not answer within 300 ms/) });
      expect(failure(load)).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/did not answer within 300 ms/) });
      for (const result of [probe, load]) expect(result!.ms).toBeLessThan(1000);
    } finally {
      silent.close();
    }
  }, 20_000);
});
