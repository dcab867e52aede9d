import { chmod, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { accountKey, accountRecordSchema, describeIssues, type AccountRecord } from './account-record.js';
import { removeStaleTempFiles, writeFileAtomic } from './atomic-write.js';
import { CoalescingWriter } from './coalescing-writer.js';
import { dataDirectory } from './data-dir.js';
import type { StoreLock } from './store-lock.js';
import { assertDocumentName, StoreError, type TokenStore } from './token-store.js';

const FILE_VERSION = 1;

/** `$XDG_DATA_HOME/claude-code-balancer/accounts.json`, else `~/.local/share/claude-code-balancer/accounts.json`. */
export function defaultAccountsFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDirectory(env), 'accounts.json');
}


/** settings.oauth.file_path (absolute, relative to the cwd, or starting with `~/`), else the default path. */
export function resolveAccountsFilePath(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (!configured) return defaultAccountsFilePath(env);
  if (configured === '~' || configured.startsWith('~/')) return join(env.HOME || homedir(), configured.slice(1));
  return resolve(configured);
}

/** What the file holds: the accounts by accountKey(), and the named documents. */
interface FileContents {
  accounts: Map<string, AccountRecord>;
  documents: Record<string, unknown>;
}

/**
 * All accounts in one JSON file `{version: 1, accounts: AccountRecord[], documents?: {name: value}}`
 * (dir 0700, file 0600). The whole file is kept in memory and every change rewrites it
 * atomically, so concurrent saves of different accounts or documents cannot lose each other.
 */
export class FileTokenStore implements TokenStore {
  readonly kind = 'file' as const;
  readonly location: string;
  private contents: FileContents | null = null;
  /** Set while the file on disk is corrupt: writing would destroy whatever it still holds. */
  private corrupt: StoreError | null = null;
  private readonly writer = new CoalescingWriter(() => this.writeAll());
  /** Orders load() against mutations so that a re-read never drops a change made meanwhile. */
  private turn: Promise<unknown> = Promise.resolve();

  /** `lock`: the single-writer lock taken for this file (see select-store.ts), released by close(). */
  constructor(
    readonly path: string,
    private readonly lock?: StoreLock,
  ) {
    this.location = path;
  }

  async close(): Promise<void> {
    await this.writer.idle();
    await this.lock?.release();
  }

  load(): Promise<AccountRecord[]> {
    return this.exclusive(async () => {
      await this.writer.idle();
      await removeStaleTempFiles(this.path);
      this.contents = await this.read();
      return [...this.contents.accounts.values()].map((a) => structuredClone(a));
    });
  }

  save(account: AccountRecord): Promise<void> {
    return this.mutate(({ accounts }) => {
      accounts.set(accountKey(account.email), structuredClone(account));
      return true;
    });
  }

  remove(email: string): Promise<void> {
    return this.mutate(({ accounts }) => accounts.delete(accountKey(email)));
  }

  loadDocument(name: string): Promise<unknown> {
    assertDocumentName(name);
    return this.exclusive(async () => {
      if (this.corrupt) throw this.corrupt;
      this.contents ??= await this.read();
      return structuredClone(this.contents.documents[name]);
    });
  }

  saveDocument(name: string, value: unknown): Promise<void> {
    assertDocumentName(name);
    const copy: unknown = JSON.parse(JSON.stringify(value));
    return this.mutate(({ documents }) => {
      documents[name] = copy;
      return true;
    });
  }

  /** Applies `change` to the in-memory contents and resolves once a write containing it is durable. */
  private async mutate(change: (contents: FileContents) => boolean): Promise<void> {
    // Wrapped so that exclusive() does not wait for the write: other saves may join it meanwhile.
    const { written } = await this.exclusive(async () => {
      if (this.corrupt) throw this.corrupt;
      this.contents ??= await this.read();
      return { written: change(this.contents) ? this.writer.request() : Promise.resolve() };
    });
    await written;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn);
    this.turn = result.catch(() => undefined);
    return result;
  }

  private async read(): Promise<FileContents> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.corrupt = null;
        return { accounts: new Map(), documents: {} };
      }
      throw new StoreError('unavailable', `cannot read account file ${this.path}: ${(err as Error).message}`);
    }
    const parsed = parseAccountsFile(text);
    if (typeof parsed === 'string') {
      this.corrupt = new StoreError(
        'corrupt',
        `account file ${this.path} is corrupt: ${parsed}. The file was left as it is and nothing will be ` +
          'written to it; fix it or move it away, then restart.',
      );
      throw this.corrupt;
    }
    this.corrupt = null;
    return parsed;
  }

  private async writeAll(): Promise<void> {
    if (this.corrupt) throw this.corrupt;
    const accounts = [...(this.contents?.accounts.values() ?? [])];
    const documents = this.contents?.documents ?? {};
    // A file without documents stays as older builds wrote it.
    const file = Object.keys(documents).length ? { version: FILE_VERSION, accounts, documents } : { version: FILE_VERSION, accounts };
    const body = `${JSON.stringify(file, null, 2)}\n`;
    try {
      await ensurePrivateDirectory(dirname(this.path));
      await writeFileAtomic(this.path, body, 0o600);
    } catch (err) {
      throw new StoreError('write_failed', `could not write account file ${this.path}: ${(err as Error).message}`);
    }
  }
}

async function ensurePrivateDirectory(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask; an existing directory keeps the mode its owner chose.
  if (created !== undefined) await chmod(dir, 0o700);
}

/** The accounts keyed by accountKey() and the documents, or what is wrong with the file. */
function parseAccountsFile(text: string): FileContents | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return `expected a JSON object {"version": ${FILE_VERSION}, "accounts": [...]}`;
  }
  const { version, accounts, documents = {} } = data as { version?: unknown; accounts?: unknown; documents?: unknown };
  if (version === undefined) return 'it has no "version" field';
  if (version !== FILE_VERSION) {
    return `unknown version ${JSON.stringify(version)} (this build reads version ${FILE_VERSION})`;
  }
  if (typeof documents !== 'object' || documents === null || Array.isArray(documents)) return '"documents" is not an object';
  const records = accountRecordSchema.array().safeParse(accounts);
  if (!records.success) return describeIssues(records.error, 'accounts');
  const byKey = new Map<string, AccountRecord>();
  for (const [i, record] of records.data.entries()) {
    const key = accountKey(record.email);
    if (byKey.has(key)) return `accounts.${i} repeats the email ${JSON.stringify(record.email)}`;
    byKey.set(key, record);
  }
  return { accounts: byKey, documents: documents as Record<string, unknown> };
}
