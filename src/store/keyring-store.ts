import { isAbsolute, join } from 'node:path';
import { accountKey, accountRecordSchema, describeIssues, type AccountRecord } from './account-record.js';
import { dataDirectory } from './data-dir.js';
import { errorMessage, keyringError, loadKeytar, withTimeout, type Keytar } from './keytar.js';
import type { StoreLock } from './store-lock.js';
import { assertDocumentName, StoreError, type StoreErrorCode, type TokenStore } from './token-store.js';

export const DEFAULT_SERVICE_NAME = 'claude-code-balancer';
export const DEFAULT_KEYRING_TIMEOUT_MS = 30_000;
/** Account name of the lock probe item; it has no "@", so no account key can collide with it. */
const PROBE_ACCOUNT = 'lock-probe';

/**
 * The keyring store's single-writer lock: `<service_name>.lock` in $XDG_RUNTIME_DIR/claude-code-balancer
 * (per user, gone at logout like the processes it names), else in the data directory.
 */
export function keyringLockPath(service: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const dir = runtime && isAbsolute(runtime) ? join(runtime, 'claude-code-balancer') : dataDirectory(env);
  return join(dir, `${service.replace(/[^A-Za-z0-9._-]/g, '_')}.keyring.lock`);
}

export type SecretServiceProbe = { ok: true } | { ok: false; reason: string; error: StoreError };

/**
 * Whether a Secret Service is reachable and its default collection unlocked within `timeoutMs`.
 * Never throws.
 */
export async function probeSecretService(
  timeoutMs = 2000,
  service = DEFAULT_SERVICE_NAME,
): Promise<SecretServiceProbe> {
  const doing = 'checking the system keyring';
  try {
    await withTimeout(
      loadKeytar().then((keytar) => assertUnlocked(keytar, service)),
      timeoutMs,
      doing,
    );
    return { ok: true };
  } catch (err) {
    const error = keyringError(err, service, doing);
    return { ok: false, reason: error.message, error };
  }
}

/**
 * keytar cannot ask whether a collection is locked, and its reads of a locked collection return
 * nothing (findCredentials() even crashes the process on locked items). Creating an item there is
 * refused ("Cannot create an item in a locked collection") without prompting, so a probe item is
 * written to the default collection, where keytar stores, and deleted again.
 */
async function assertUnlocked(keytar: Keytar, service: string): Promise<void> {
  await keytar.setPassword(service, PROBE_ACCOUNT, 'unlocked');
  await keytar.deletePassword(service, PROBE_ACCOUNT);
}

/**
 * One Secret Service item per account (via keytar/libsecret): attributes service = service name,
 * account = lowercased email; the secret is the AccountRecord as JSON. Each named document is one
 * more item, service = `<service name>:documents`, account = document name, secret = the JSON:
 * a service of its own, so reading the accounts (and older builds) never sees it.
 */
export class KeyringTokenStore implements TokenStore {
  readonly kind = 'keyring' as const;
  readonly location: string;

  constructor(
    readonly service: string = DEFAULT_SERVICE_NAME,
    private readonly timeoutMs: number = DEFAULT_KEYRING_TIMEOUT_MS,
    private readonly lock?: StoreLock,
  ) {
    this.location = `keyring service "${service}"`;
  }

  async close(): Promise<void> {
    await this.lock?.release();
  }

  async load(): Promise<AccountRecord[]> {
    const credentials = await this.call(`reading ${this.location}`, async (keytar) => {
      // Must come first: a locked keyring would read as empty, or crash findCredentials().
      await assertUnlocked(keytar, this.service);
      return keytar.findCredentials(this.service);
    });
    return credentials
      .filter((c) => c.account !== PROBE_ACCOUNT)
      .map((c) => this.parse(c.account, c.password));
  }

  async save(account: AccountRecord): Promise<void> {
    const key = accountKey(account.email);
    await this.call(
      `saving account ${key} to ${this.location}`,
      (keytar) => keytar.setPassword(this.service, key, JSON.stringify(account)),
      'write_failed',
    );
  }

  async remove(email: string): Promise<void> {
    const key = accountKey(email);
    await this.call(
      `removing account ${key} from ${this.location}`,
      async (keytar) => {
        // Deleting from a locked collection silently deletes nothing (keytar answers "not found").
        await assertUnlocked(keytar, this.service);
        await keytar.deletePassword(this.service, key);
      },
      'write_failed',
    );
  }

  async loadDocument(name: string): Promise<unknown> {
    assertDocumentName(name);
    const secret = await this.call(`reading document ${name} from ${this.location}`, async (keytar) => {
      // A locked collection reads as "no such item".
      await assertUnlocked(keytar, this.service);
      return keytar.getPassword(this.documentService, name);
    });
    if (secret === null) return undefined;
    try {
      return JSON.parse(secret) as unknown;
    } catch (err) {
      throw new StoreError(
        'corrupt',
        `keyring item service="${this.documentService}" account="${name}" is not valid JSON (${errorMessage(err)}). It was ` +
          `left as it is; remove it (secret-tool clear service '${this.documentService}' account '${name}') and restart.`,
      );
    }
  }

  async saveDocument(name: string, value: unknown): Promise<void> {
    assertDocumentName(name);
    const secret = JSON.stringify(value);
    await this.call(
      `saving document ${name} to ${this.location}`,
      (keytar) => keytar.setPassword(this.documentService, name, secret),
      'write_failed',
    );
  }

  private get documentService(): string {
    return `${this.service}:documents`;
  }

  private async call<T>(
    doing: string,
    fn: (keytar: Keytar) => Promise<T>,
    otherwise: StoreErrorCode = 'unavailable',
  ): Promise<T> {
    const keytar = await loadKeytar();
    try {
      return await withTimeout(fn(keytar), this.timeoutMs, doing);
    } catch (err) {
      throw keyringError(err, this.service, doing, otherwise);
    }
  }

  private parse(account: string, secret: string): AccountRecord {
    let problem: string;
    try {
      const result = accountRecordSchema.safeParse(JSON.parse(secret));
      if (result.success) return result.data;
      problem = describeIssues(result.error);
    } catch (err) {
      problem = `not valid JSON (${errorMessage(err)})`;
    }
    throw new StoreError(
      'corrupt',
      `keyring item service="${this.service}" account="${account}" is corrupt: ${problem}. It was left as it is; ` +
        `remove it (secret-tool clear service '${this.service}' account '${account}'; that account then needs a ` +
        'new login) and restart.',
    );
  }
}
