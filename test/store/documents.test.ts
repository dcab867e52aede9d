// Named documents (TokenStore.loadDocument/saveDocument): what client keys and other parts keep
// next to the accounts. Each store keeps them apart from the accounts, whole, and durably.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTokenStore } from '../../src/store/file-store.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { clientEnv, secretToolSearch, startSecretService, type SecretService } from '../support/secret-service.js';
import { account } from './accounts.js';
import type { ChildResult } from './child/store-child.js';
import { runStoreChild } from './child/run-child.js';

let dir: string;
const running: SecretService[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ccb-documents-'));
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  await rm(dir, { recursive: true, force: true });
});

const doc = { keys: [{ name: 'laptop', sha256: 'ab'.repeat(32), created_at: 1 }] };

describe('MemoryTokenStore documents', () => {
  it('returns undefined before a save, then a copy of what was saved', async () => {
    const store = new MemoryTokenStore();
    expect(await store.loadDocument('client_keys')).toBeUndefined();
    const value = structuredClone(doc);
    await store.saveDocument('client_keys', value);
    value.keys[0].name = 'changed after save';
    expect(await store.loadDocument('client_keys')).toEqual(doc);
    expect(await store.load()).toEqual([]);
  });

  it('refuses names that are not plain identifiers', async () => {
    const store = new MemoryTokenStore();
    await expect(store.saveDocument('../x', {})).rejects.toThrow(/invalid store document name/);
  });
});

describe('FileTokenStore documents', () => {
  it('keeps documents in a top-level field of the same file, next to the accounts, across instances', async () => {
    const path = join(dir, 'accounts.json');
    const store = new FileTokenStore(path);
    await store.save(account('alice@example.com'));
    await store.saveDocument('client_keys', doc);
    await store.saveDocument('usage', { n: 1 });
    await store.saveDocument('usage', { n: 2 });

    const file = JSON.parse(await readFile(path, 'utf8'));
    expect(file.version).toBe(1);
    expect(file.accounts.map((a: { email: string }) => a.email)).toEqual(['alice@example.com']);
    expect(file.documents).toEqual({ client_keys: doc, usage: { n: 2 } });

    const again = new FileTokenStore(path);
    expect(await again.loadDocument('client_keys')).toEqual(doc);
    expect(await again.loadDocument('usage')).toEqual({ n: 2 });
    expect(await again.loadDocument('other')).toBeUndefined();
    // An account change rewrites the file without dropping the documents.
    await again.remove('alice@example.com');
    expect(JSON.parse(await readFile(path, 'utf8')).documents.client_keys).toEqual(doc);
    expect(await new FileTokenStore(path).load()).toEqual([]);
  });

  it('writes no documents field while there is none (the format older builds wrote)', async () => {
    const path = join(dir, 'accounts.json');
    await new FileTokenStore(path).save(account('alice@example.com'));
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')))).toEqual(['version', 'accounts']);
  });
});

describe('KeyringTokenStore documents on a real gnome-keyring', () => {
  const value = (r: ChildResult | undefined) => {
    if (!r?.ok) throw new Error(`child op failed: ${JSON.stringify(r)}`);
    return r.value;
  };

  it('keeps each document as one item of its own service, invisible to the account list', async () => {
    const secrets = await startSecretService({ home: dir, password: 'test-keyring-password', unlock: true });
    running.push(secrets);
    const env = clientEnv(secrets.env);
    const results = await runStoreChild(env, [
      { op: 'loadDocument', service: 'ccb-doc-test', name: 'client_keys' },
      { op: 'save', service: 'ccb-doc-test', account: account('alice@example.com') },
      { op: 'saveDocument', service: 'ccb-doc-test', name: 'client_keys', value: { old: true } },
      { op: 'saveDocument', service: 'ccb-doc-test', name: 'client_keys', value: doc },
    ]);
    results.forEach(value);
    expect(value(results[0])).toBeNull();

    const items = await secretToolSearch(secrets.env, { service: 'ccb-doc-test:documents' });
    expect(items.items.length).toBe(1);
    expect(JSON.parse(items.items[0]!.secret!)).toEqual(doc);

    const [loadedDoc, accounts] = await runStoreChild(env, [
      { op: 'loadDocument', service: 'ccb-doc-test', name: 'client_keys' },
      { op: 'load', service: 'ccb-doc-test' },
    ]);
    expect(value(loadedDoc)).toEqual(doc);
    expect((value(accounts) as Array<{ email: string }>).map((a) => a.email)).toEqual(['alice@example.com']);
  }, 20_000);
});
