import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PASSTHROUGH_WITH_KEYS, type Config } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import { systemClock, type Clock } from '../oauth/clock.js';
import { isSharedStore, StoreError, updateDocument, type TokenStore } from '../store/token-store.js';
import { cliCommand } from '../hints/cli-command.js';

/** The token store document that holds the keys created at run time. */
export const CLIENT_KEYS_DOCUMENT = 'client_keys';
/** Last-use times of created keys are written at most this often (and at shutdown). */
export const LAST_USE_WRITE_INTERVAL_MS = 60_000;

/**
 * Only a SHA-256 of a created key is stored. The keys are 256 random bits, so a preimage search
 * is hopeless and a slow password hash (scrypt, argon2) would add nothing but per-request cost.
 */
const storedKeySchema = z.object({
  name: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: z.number(),
  last_used_at: z.number().nullable(),
});
const documentSchema = z.object({ keys: z.array(storedKeySchema) });
type StoredKey = z.infer<typeof storedKeySchema>;

export type ClientKeySource = 'config' | 'created';

export interface ClientKeyInfo {
  name: string;
  source: ClientKeySource;
  created_at: string | null;
  last_used_at: string | null;
}

interface Entry {
  name: string;
  source: ClientKeySource;
  digest: Buffer;
  createdAt: number | null;
  lastUsedAt: number | null;
}

/** A refused key operation, with the HTTP status the admin API answers. */
export class ClientKeyError extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** `ccb-` and 32 random bytes, base64url: 47 characters, safe in any header. */
export function newClientKey(): string {
  return `ccb-${randomBytes(32).toString('base64url')}`;
}

/**
 * The keys clients present on /v1: those of settings.client_keys and those created at run time
 * (kept as hashes in the token store). Matching compares digests in constant time with every key.
 */
export class ClientKeys {
  private configured: Entry[] = [];
  private created: Entry[] = [];
  private lastUseTimer: unknown;
  /** Reads and writes of the document, one after the other. */
  private writes: Promise<void> = Promise.resolve();
  private offRemote: (() => void) | undefined;

  private constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly log: Pick<Logger, 'warn'> | undefined,
  ) {}

  /** Loads the created keys from the store. Throws StoreError when the store or its document cannot be read. */
  static async open(
    store: TokenStore,
    configKeys: Config['settings']['client_keys'],
    opts: { clock?: Clock; log?: Pick<Logger, 'warn'> } = {},
  ): Promise<ClientKeys> {
    const keys = new ClientKeys(store, opts.clock ?? systemClock, opts.log);
    keys.adopt(keys.parse(await store.loadDocument(CLIENT_KEYS_DOCUMENT)));
    keys.configure(configKeys);
    // Another instance created or removed a key: it counts here at once, not after a restart.
    if (isSharedStore(store)) {
      keys.offRemote = store.onRemoteChange((change) => {
        if (change.type === 'document' && change.name === CLIENT_KEYS_DOCUMENT) void keys.reload();
      });
    }
    return keys;
  }

  private parse(stored: unknown): StoredKey[] {
    if (stored === undefined) return [];
    const parsed = documentSchema.safeParse(stored);
    if (!parsed.success) {
      throw new StoreError(
        'corrupt',
        `the client keys in ${this.store.location} are corrupt (${parsed.error.issues[0]?.message}); they were left as they are. Fix or remove them and restart.`,
      );
    }
    return parsed.data.keys;
  }

  /** The stored keys become the created ones; a later last use seen here is kept. */
  private adopt(stored: StoredKey[]): void {
    const usedHere = new Map(this.created.map((e) => [e.name, e.lastUsedAt]));
    this.created = stored.map((k) => ({
      name: k.name,
      source: 'created',
      digest: Buffer.from(k.sha256, 'hex'),
      createdAt: k.created_at,
      lastUsedAt: latest(k.last_used_at, usedHere.get(k.name) ?? null),
    }));
  }

  private reload(): Promise<void> {
    const run = this.writes.then(async () => this.adopt(this.parse(await this.store.loadDocument(CLIENT_KEYS_DOCUMENT))));
    this.writes = run.catch((err: unknown) => this.log?.warn({ err: (err as Error).message }, 'could not re-read the client keys'));
    return this.writes;
  }

  /** Takes the keys of a (re)loaded config; their last-use times carry over by name. */
  configure(configKeys: Config['settings']['client_keys']): void {
    const before = new Map(this.configured.map((e) => [e.name, e.lastUsedAt]));
    this.configured = configKeys.map((k) => ({
      name: k.name,
      source: 'config',
      digest: sha256(k.key),
      createdAt: null,
      lastUsedAt: before.get(k.name) ?? null,
    }));
  }

  /** Whether /v1 needs a key: some key exists. */
  get any(): boolean {
    return this.configured.length > 0 || this.created.length > 0;
  }

  /** The name of the key among `presented` (header values, any may be undefined), if one matches. */
  match(presented: ReadonlyArray<string | undefined>): string | undefined {
    let found: Entry | undefined;
    for (const candidate of presented) {
      if (candidate === undefined || candidate === '') continue;
      const digest = sha256(candidate);
      // Every key is compared, whichever matches: the time taken does not say which or whether.
      for (const entry of this.configured) if (timingSafeEqual(entry.digest, digest)) found ??= entry;
      for (const entry of this.created) if (timingSafeEqual(entry.digest, digest)) found ??= entry;
    }
    if (!found) return undefined;
    found.lastUsedAt = this.clock.now();
    if (found.source === 'created') this.scheduleLastUseWrite();
    return found.name;
  }

  list(): ClientKeyInfo[] {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return [...this.configured, ...this.created].map((e) => ({
      name: e.name,
      source: e.source,
      created_at: iso(e.createdAt),
      last_used_at: iso(e.lastUsedAt),
    }));
  }

  /** Why `config` cannot be used with the keys created so far, if it cannot. */
  conflictWith(config: Config): string | undefined {
    if (this.created.length === 0) return undefined;
    const i = config.providers.findIndex((p) => p.enabled && p.auth_value === 'passthrough');
    if (i >= 0) return `providers[${i}].auth_value: ${PASSTHROUGH_WITH_KEYS} (${this.created.length} key(s) were created with \`${cliCommand('keys add')}\`)`;
    // Two keys of one name could not be told apart in the log, and the created one could not be removed.
    const k = config.settings.client_keys.findIndex((c) => this.created.some((e) => e.name === c.name));
    if (k < 0) return undefined;
    const name = config.settings.client_keys[k].name;
    return `settings.client_keys[${k}].name: "${name}" is the name of a key created with \`${cliCommand('keys add')}\`; choose another name, or remove that key first (${cliCommand(`keys remove ${name}`)})`;
  }

  /** Creates a key; its value is returned here and never again. */
  async create(name: string, config: Config): Promise<{ name: string; key: string; created_at: string }> {
    if (this.configured.some((e) => e.name === name)) {
      throw new ClientKeyError(409, `A key named "${name}" is set in settings.client_keys; choose another name.`);
    }
    if (this.created.some((e) => e.name === name)) {
      throw new ClientKeyError(409, `A key named "${name}" exists; remove it first (${cliCommand(`keys remove ${name}`)}) or choose another name.`);
    }
    const passthrough = config.providers.findIndex((p) => p.enabled && p.auth_value === 'passthrough');
    if (passthrough >= 0) {
      throw new ClientKeyError(409, `providers[${passthrough}] "${config.providers[passthrough].name}" uses passthrough: ${PASSTHROUGH_WITH_KEYS}.`);
    }
    const key = newClientKey();
    const createdAt = this.clock.now();
    await this.write((stored) => {
      if (stored.some((k) => k.name === name)) throw new ClientKeyError(409, `A key named "${name}" exists; remove it first (${cliCommand(`keys remove ${name}`)}) or choose another name.`);
      return [...stored, { name, sha256: sha256(key).toString('hex'), created_at: createdAt, last_used_at: null }];
    });
    return { name, key, created_at: new Date(createdAt).toISOString() };
  }

  async remove(name: string): Promise<void> {
    if (this.configured.some((e) => e.name === name)) {
      throw new ClientKeyError(409, `The key "${name}" is set in settings.client_keys: remove it there and reload.`);
    }
    await this.write((stored) => {
      if (!stored.some((k) => k.name === name)) throw new ClientKeyError(404, `No key named "${name}".`);
      return stored.filter((k) => k.name !== name);
    });
  }

  /** At shutdown: writes pending last-use times. */
  async close(): Promise<void> {
    this.offRemote?.();
    if (this.lastUseTimer === undefined) return this.writes;
    this.clock.clearTimeout(this.lastUseTimer);
    this.lastUseTimer = undefined;
    await this.writeLastUse().catch((err: unknown) => this.log?.warn({ err: (err as Error).message }, 'could not store the last use of client keys'));
  }

  private scheduleLastUseWrite(): void {
    if (this.lastUseTimer !== undefined) return;
    this.lastUseTimer = this.clock.setTimeout(() => {
      this.lastUseTimer = undefined;
      this.writeLastUse().catch((err: unknown) => this.log?.warn({ err: (err as Error).message }, 'could not store the last use of client keys'));
    }, LAST_USE_WRITE_INTERVAL_MS);
  }

  /** Only the times of keys still stored: a key removed elsewhere is not put back, one added is not dropped. */
  private writeLastUse(): Promise<void> {
    const usedHere = new Map(this.created.map((e) => [e.name, e.lastUsedAt]));
    return this.write((stored) => stored.map((k) => ({ ...k, last_used_at: latest(k.last_used_at, usedHere.get(k.name) ?? null) })));
  }

  /** Applies `change` to the document as stored now (atomically where the store can), then adopts the result. */
  private write(change: (stored: StoredKey[]) => StoredKey[]): Promise<void> {
    const update = (current: unknown) => ({ keys: change(this.parse(current)) });
    const run = this.writes.then(async () => {
      const written = (await updateDocument(this.store, CLIENT_KEYS_DOCUMENT, update)) as { keys: StoredKey[] };
      this.adopt(written.keys);
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
}

function latest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
