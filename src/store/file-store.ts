import { chmod, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { accountKey, type AccountRecord } from '../oauth/account.js';
import { accountRecordSchema, describeIssues } from './account-schema.js';
import { removeStaleTempFiles, writeFileAtomic } from './atomic-write.js';
import { CoalescingWriter } from './coalescing-writer.js';
import { StoreError, type TokenStore } from './token-store.js';

const FILE_VERSION = 1;

/** `$XDG_DATA_HOME/claude-code-balancer/accounts.json`, else `~/.local/share/claude-code-balancer/accounts.json`. */
export function defaultAccountsFilePath(env: NodeJS.ProcessEnv = process.env): string {
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME;
  const dataHome = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share');
  return join(dataHome, 'claude-code-balancer', 'accounts.json');
}

/** settings.oauth.file_path (absolute, relative to the cwd, or starting with `~/`), else the default path. */
export function resolveAccountsFilePath(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (!configured) return defaultAccountsFilePath(env);
  if (configured === '~' || configured.startsWith('~/')) return join(env.HOME || homedir(), configured.slice(1));
  return resolve(configured);
}

/**
 * All accounts in one JSON file `{version: 1, accounts: AccountRecord[]}` (dir 0700, file 0600).
 * The whole pool is kept in memory and every change rewrites the whole file atomically, so
 * concurrent saves of different accounts cannot lose each other.
 */
export class FileTokenStore implements TokenStore {
  readonly kind = 'file' as const;
  readonly location: string;
  private accounts: Map<string, AccountRecord> | null = null;
  /** Set while the file on disk is corrupt: writing would destroy whatever it still holds. */
  private corrupt: StoreError | null = null;
  private readonly writer = new CoalescingWriter(() => this.writeAll());
  /** Orders load() against mutations so that a re-read never drops a change made meanwhile. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {
    this.location = path;
  }

  load(): Promise<AccountRecord[]> {
    return this.exclusive(async () => {
      await this.writer.idle();
      await removeStaleTempFiles(this.path);
      this.accounts = await this.read();
      return [...this.accounts.values()].map((a) => structuredClone(a));
    });
  }

  save(account: AccountRecord): Promise<void> {
    return this.mutate((accounts) => {
      accounts.set(accountKey(account.email), structuredClone(account));
      return true;
    });
  }

  remove(email: string): Promise<void> {
    return this.mutate((accounts) => accounts.delete(accountKey(email)));
  }

  /** Applies `change` to the in-memory pool and resolves once a write containing it is durable. */
  private async mutate(change: (accounts: Map<string, AccountRecord>) => boolean): Promise<void> {
    // Wrapped so that exclusive() does not wait for the write: other saves may join it meanwhile.
    const { written } = await this.exclusive(async () => {
      if (this.corrupt) throw this.corrupt;
      this.accounts ??= await this.read();
      return { written: change(this.accounts) ? this.writer.request() : Promise.resolve() };
    });
    await written;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn);
    this.turn = result.catch(() => undefined);
    return result;
  }

  private async read(): Promise<Map<string, AccountRecord>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.corrupt = null;
        return new Map();
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
    const accounts = [...(this.accounts?.values() ?? [])];
    const body = `${JSON.stringify({ version: FILE_VERSION, accounts }, null, 2)}\n`;
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

/** The accounts keyed by accountKey(), or what is wrong with the file. */
function parseAccountsFile(text: string): Map<string, AccountRecord> | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return `expected a JSON object {"version": ${FILE_VERSION}, "accounts": [...]}`;
  }
  const { version, accounts } = data as { version?: unknown; accounts?: unknown };
  if (version === undefined) return 'it has no "version" field';
  if (version !== FILE_VERSION) {
    return `unknown version ${JSON.stringify(version)} (this build reads version ${FILE_VERSION})`;
  }
  const records = accountRecordSchema.array().safeParse(accounts);
  if (!records.success) return describeIssues(records.error, 'accounts');
  const byKey = new Map<string, AccountRecord>();
  for (const [i, record] of records.data.entries()) {
    const key = accountKey(record.email);
    if (byKey.has(key)) return `accounts.${i} repeats the email ${JSON.stringify(record.email)}`;
    byKey.set(key, record);
  }
  return byKey;
}
