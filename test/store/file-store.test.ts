import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultAccountsFilePath, FileTokenStore, resolveAccountsFilePath } from '../../src/store/file-store.js';
import { StoreError } from '../../src/store/token-store.js';
import { account } from './accounts.js';

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ccb-file-store-'));
  path = join(dir, 'data', 'claude-code-balancer', 'accounts.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o777;

async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

describe('default path', () => {
  it('uses XDG_DATA_HOME, else ~/.local/share', () => {
    expect(defaultAccountsFilePath({ XDG_DATA_HOME: '/xdg', HOME: '/home/u' })).toBe(
      '/xdg/claude-code-balancer/accounts.json',
    );
    expect(defaultAccountsFilePath({ HOME: '/home/u' })).toBe(
      '/home/u/.local/share/claude-code-balancer/accounts.json',
    );
    // The XDG spec says to ignore a relative XDG_DATA_HOME.
    expect(defaultAccountsFilePath({ XDG_DATA_HOME: 'rel', HOME: '/home/u' })).toBe(
      '/home/u/.local/share/claude-code-balancer/accounts.json',
    );
  });

  it('honours a configured file_path, expanding ~', () => {
    expect(resolveAccountsFilePath('/etc/ccb.json', { HOME: '/home/u' })).toBe('/etc/ccb.json');
    expect(resolveAccountsFilePath('~/ccb.json', { HOME: '/home/u' })).toBe('/home/u/ccb.json');
    expect(resolveAccountsFilePath(undefined, { XDG_DATA_HOME: '/x' })).toBe('/x/claude-code-balancer/accounts.json');
  });
});

describe('FileTokenStore', () => {
  it('treats a missing file as empty and round-trips accounts through a new instance', async () => {
    const store = new FileTokenStore(path);
    expect(await store.load()).toEqual([]);
    const a = account('Alice@Example.com');
    const b = account('bob@example.com', { refresh_token: null, verdict: { state: 'needs_login', reason: 'refresh refused: invalid_grant', at: 1_800_000_000_000 } });
    await store.save(a);
    await store.save(b);
    await store.save({ ...a, usage_count: 7 });

    const reopened = new FileTokenStore(path);
    expect(await reopened.load()).toEqual([{ ...a, usage_count: 7 }, b]);
    await reopened.remove('ALICE@example.com');
    await reopened.remove('nobody@example.com');
    expect(await new FileTokenStore(path).load()).toEqual([b]);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, accounts: [b] });
  });

  it('creates the directory 0700 and the file 0600, whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      await new FileTokenStore(path).save(account('a@example.com'));
    } finally {
      process.umask(previous);
    }
    expect(await mode(join(dir, 'data', 'claude-code-balancer'))).toBe(0o700);
    expect(await mode(path)).toBe(0o600);
    expect(await readdir(join(dir, 'data', 'claude-code-balancer'))).toEqual(['accounts.json']);
  });

  it('saves without a prior load() without losing what the file holds', async () => {
    await new FileTokenStore(path).save(account('a@example.com'));
    await new FileTokenStore(path).save(account('b@example.com'));
    expect((await new FileTokenStore(path).load()).map((a) => a.email)).toEqual(['a@example.com', 'b@example.com']);
  });

  it('serializes concurrent saves: none is lost and the latest state wins', async () => {
    const store = new FileTokenStore(path);
    await store.load();
    const emails = Array.from({ length: 50 }, (_, i) => `user${i}@example.com`);
    await Promise.all([
      ...emails.map((email) => store.save(account(email))),
      store.save(account('user0@example.com', { usage_count: 99 })),
      store.remove('user1@example.com'),
    ]);
    const loaded = await new FileTokenStore(path).load();
    expect(loaded).toHaveLength(49);
    expect(loaded.find((a) => a.email === 'user0@example.com')?.usage_count).toBe(99);
    expect(loaded.some((a) => a.email === 'user1@example.com')).toBe(false);
  });

  it('keeps the previous file valid when the writer is killed mid-write', async () => {
    const hooks = fileURLToPath(new URL('./child/register.mjs', import.meta.url));
    const writer = fileURLToPath(new URL('./child/file-writer.ts', import.meta.url));
    const parent = join(dir, 'data', 'claude-code-balancer');
    let strays: string[] = [];
    // A kill that lands between two writes proves nothing: retry until one leaves a temp file behind.
    for (let attempt = 0; attempt < 5 && strays.length === 0; attempt++) {
      const child = spawn(process.execPath, ['--import', hooks, writer, path], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 10_000;
      let seenFile = false;
      while (Date.now() < deadline) {
        const names = await readdir(parent).catch((): string[] => []);
        seenFile ||= names.includes('accounts.json');
        if (seenFile && names.some((n) => n.endsWith('.tmp'))) break;
      }
      child.kill('SIGKILL');
      await exited;
      strays = (await readdir(parent)).filter((n) => n.endsWith('.tmp'));
    }
    expect(strays.length).toBeGreaterThan(0);

    const text = await readFile(path, 'utf8');
    expect(JSON.parse(text)).toMatchObject({ version: 1 });
    const loaded = await new FileTokenStore(path).load();
    expect(loaded.length).toBeGreaterThan(0);
    // load() deletes the temp files of dead writers: they may hold tokens.
    expect((await readdir(parent)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 30_000);

  it('ignores a stray temp file next to the accounts file', async () => {
    const store = new FileTokenStore(path);
    await store.save(account('a@example.com'));
    const parent = join(dir, 'data', 'claude-code-balancer');
    await writeFile(join(parent, '.accounts.json.4194304123.deadbeef.tmp'), '{"version": 1, "acc');
    expect((await new FileTokenStore(path).load()).map((a) => a.email)).toEqual(['a@example.com']);
  });

  describe('corrupt file', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bad JSON', '{"version": 1, "accounts": [', /not valid JSON/],
      ['an empty file', '', /not valid JSON/],
      ['a JSON array', '[]', /expected a JSON object/],
      ['no version', '{"accounts": []}', /no "version" field/],
      ['an unknown version', '{"version": 2, "accounts": []}', /unknown version 2/],
      ['a bad record', '{"version": 1, "accounts": [{"email": "a@example.com"}]}', /accounts\.0\.access_token/],
      [
        'a repeated email',
        JSON.stringify({ version: 1, accounts: [account('a@example.com'), account('A@example.com')] }),
        /accounts\.1 repeats the email/,
      ],
    ];

    it.each(cases)('%s: load() throws StoreError(corrupt) naming the file; nothing overwrites it', async (_, text, what) => {
      const store = new FileTokenStore(path);
      await store.save(account('seed@example.com'));
      await writeFile(path, text);

      const err = await storeError(store.load());
      expect(err.code).toBe('corrupt');
      expect(err.message).toContain(path);
      expect(err.message).toMatch(what);
      expect(err.message).toMatch(/left as it is/);

      for (const write of [store.save(account('b@example.com')), store.remove('seed@example.com')]) {
        expect((await storeError(write)).code).toBe('corrupt');
      }
      // A fresh instance refuses too: it must read the file before it may write it.
      expect((await storeError(new FileTokenStore(path).save(account('c@example.com')))).code).toBe('corrupt');
      expect(await readFile(path, 'utf8')).toBe(text);
    });

    it('accepts writes again once the file is fixed', async () => {
      const store = new FileTokenStore(path);
      await store.save(account('seed@example.com'));
      await writeFile(path, 'garbage');
      await storeError(store.load());
      await rm(path);
      expect(await store.load()).toEqual([]);
      await store.save(account('b@example.com'));
      expect((await new FileTokenStore(path).load()).map((a) => a.email)).toEqual(['b@example.com']);
    });
  });

  it('reports a failed write as write_failed', async () => {
    // A 240-character name can be read (it is missing: empty) but its temp file name is too long.
    const unwritable = join(dir, `${'a'.repeat(235)}.json`);
    const err = await storeError(new FileTokenStore(unwritable).save(account('a@example.com')));
    expect(err.code).toBe('write_failed');
    expect(err.message).toContain(unwritable);
    expect(err.message).toMatch(/ENAMETOOLONG/);
  });

  it('reports a location it cannot read as unavailable', async () => {
    await writeFile(join(dir, 'blocker'), '');
    const err = await storeError(new FileTokenStore(join(dir, 'blocker', 'accounts.json')).load());
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain(join(dir, 'blocker', 'accounts.json'));
  });
});
