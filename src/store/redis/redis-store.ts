import type { Logger } from 'pino';
import { accountKey, accountRecordSchema, describeIssues, type AccountRecord } from '../account-record.js';
import { StoreError, type RemoteChange, type SharedTokenStore } from '../token-store.js';
import { ChangeFeed, type StoreChange } from './change-feed.js';
import type { RedisConnection } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
import { RedisRefreshLock } from './redis-refresh-lock.js';
import { RedisSharedState } from './redis-shared-state.js';
import type { TokenCipher } from './token-cipher.js';

/**
 * Writes one account. 'cas' writes only over the tokens the writer last saw (fp ARGV[2]): a
 * status or usage write from an instance that has not heard of a newer login or refresh yet must
 * not put old tokens back (it returns 0 and the writer re-reads). Usage is added as a delta and
 * last_used kept at its maximum, so instances never overwrite each other's counts.
 */
const SAVE = `
local current = redis.call('HGET', KEYS[1], 'fp')
local written = 0
if ARGV[1] == 'force' or current == ARGV[2] then
  redis.call('HSET', KEYS[1], 'v', ARGV[4], 'fp', ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[5])
  redis.call('DEL', KEYS[3])
  written = 1
elseif not current then
  return 0
end
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[1], 'usage_count', ARGV[6]) end
local used = tonumber(ARGV[7])
if used > 0 and used > tonumber(redis.call('HGET', KEYS[1], 'last_used') or '0') then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[7])
end
return written`;

/** How long a logout is remembered for instances that were cut off when it happened. */
const TOMBSTONE_SECONDS = 30 * 24 * 3600;

/** An account changed on another instance (or while this one was cut off from Redis). */
export type RemoteAccountChange = RemoteChange;

interface Known {
  fp: string;
  /** The record as last read or written, to restore it if Redis comes back without it. */
  record: AccountRecord;
  /** usage_count as last synced with Redis: what is above it locally is not in Redis yet. */
  usage: number;
}

export interface RedisTokenStoreOptions {
  connection: RedisConnection;
  cipher: TokenCipher;
  prefix: string;
  instanceId: string;
  lockTtlMs: number;
  lockWaitMs: number;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * The pool in Redis, shared by every instance on it. The running pool keeps its accounts in
 * memory and serves requests from there; this store writes changes through (tokens sealed with
 * AES-256-GCM), announces them on the change feed, and hands the pool what other instances
 * changed, re-reading everything after Redis comes back.
 */
export class RedisTokenStore implements SharedTokenStore {
  readonly kind = 'redis' as const;
  readonly location: string;
  readonly keys: RedisKeys;
  readonly feed: ChangeFeed;
  readonly refreshLock: RedisRefreshLock;
  readonly shared: RedisSharedState;
  private readonly known = new Map<string, Known>();
  private readonly listeners = new Set<(change: RemoteAccountChange) => void>();
  /** Names of the documents read or written here, re-announced after a reconnect. */
  private readonly documents = new Set<string>();

  private constructor(private readonly opts: RedisTokenStoreOptions) {
    this.keys = new RedisKeys(opts.prefix);
    this.location = `Redis ${opts.connection.displayUrl}, prefix ${opts.prefix}`;
    this.feed = new ChangeFeed(opts.connection, this.keys.changes, opts.instanceId);
    this.refreshLock = new RedisRefreshLock(opts.connection, this.feed, opts.prefix, {
      ttlMs: opts.lockTtlMs,
      waitMs: opts.lockWaitMs,
      log: opts.log,
    });
    this.shared = new RedisSharedState(opts.connection, this.keys, opts.cipher, this.feed);
  }

  static async open(opts: RedisTokenStoreOptions): Promise<RedisTokenStore> {
    const store = new RedisTokenStore(opts);
    store.feed.on((change) => void store.onRemote(change));
    await store.feed.start();
    opts.connection.onReconnect(() => void store.resync());
    return store;
  }

  get connection(): RedisConnection {
    return this.opts.connection;
  }

  /** 'connected' or 'disconnected' (serving from memory), for /health. */
  get state() {
    return this.opts.connection.state;
  }

  /** Changes other instances made, as they arrive; returns the unsubscribe function. */
  onRemoteChange(listener: (change: RemoteAccountChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async load(): Promise<AccountRecord[]> {
    const { client } = this.opts.connection;
    const members = await client.smembers(this.keys.accounts);
    const records: AccountRecord[] = [];
    for (const key of members.sort()) {
      const record = await this.read(key);
      if (record) records.push(record);
    }
    return records;
  }

  /** One account as Redis has it now (after taking its refresh right: another holder may have refreshed). */
  async reload(email: string): Promise<AccountRecord | null> {
    return this.read(accountKey(email));
  }

  async save(account: AccountRecord): Promise<void> {
    const key = accountKey(account.email);
    const redisKey = this.keys.account(key);
    const { usage_count, last_used, ...sealedPart } = account;
    const fp = this.tokenFingerprint(account);
    const known = this.known.get(key);
    // New tokens (a login, or a refresh under the refresh lock) win; anything else is written over
    // the tokens it was judged with only.
    const mode = !known || known.fp !== fp ? 'force' : 'cas';
    const delta = Math.max(0, usage_count - (known?.usage ?? 0));
    let written: unknown;
    try {
      written = await this.opts.connection.client.eval(
        SAVE,
        3,
        redisKey,
        this.keys.accounts,
        this.keys.removed(key),
        mode,
        known?.fp ?? '',
        fp,
        this.opts.cipher.seal(JSON.stringify(sealedPart), redisKey),
        key,
        String(delta),
        String(last_used ?? 0),
      );
    } catch (err) {
      throw new StoreError('write_failed', `could not write account ${key} to ${this.location}: ${(err as Error).message}`);
    }
    if (written === 1) {
      this.known.set(key, { fp, usage: usage_count, record: structuredClone(account) });
      await this.feed.publish({ kind: 'account', key });
    } else {
      if (known) known.usage = usage_count;
      // Newer tokens are in Redis: this write was about dead ones. Hand the pool the current record.
      await this.onRemote({ kind: 'account', key });
    }
  }

  async remove(email: string): Promise<void> {
    const key = accountKey(email);
    try {
      await this.opts.connection.client
        .multi()
        .del(this.keys.account(key))
        .srem(this.keys.accounts, key)
        .set(this.keys.removed(key), '1', 'EX', TOMBSTONE_SECONDS)
        .exec();
    } catch (err) {
      throw new StoreError('write_failed', `could not remove account ${key} from ${this.location}: ${(err as Error).message}`);
    }
    this.known.delete(key);
    await this.feed.publish({ kind: 'removed', key });
  }

  savePendingLogin(state: string, login: unknown, ttlMs: number): Promise<void> {
    return this.shared.savePendingLogin(state, login, ttlMs);
  }

  takePendingLogin(state: string): Promise<unknown> {
    return this.shared.takePendingLogin(state);
  }

  shareBench(email: string, until: number, reason: string): Promise<void> {
    return this.shared.saveBench(accountKey(email), { until, reason });
  }

  async loadBenches(): Promise<Array<{ email: string; until: number; reason: string }>> {
    return [...(await this.shared.loadBenches())].map(([email, bench]) => ({ email, ...bench }));
  }

  sharePin(session: string, email: string, ttlMs: number): Promise<void> {
    return this.shared.savePin(session, accountKey(email), ttlMs);
  }

  loadPins(): Promise<Array<{ session: string; email: string }>> {
    return this.shared.loadPins();
  }

  async loadDocument(name: string): Promise<unknown> {
    const value = await this.shared.loadDocument(name);
    this.documents.add(name);
    return value;
  }

  async saveDocument(name: string, value: unknown): Promise<void> {
    await this.shared.saveDocument(name, value);
  }

  updateDocument(name: string, update: (current: unknown) => unknown): Promise<unknown> {
    return this.shared.updateDocument(name, update);
  }

  async close(): Promise<void> {
    await this.opts.connection.close();
  }

  private tokenFingerprint(account: AccountRecord): string {
    return this.opts.cipher.fingerprint(`${account.access_token}\0${account.refresh_token ?? ''}`);
  }

  private async read(key: string): Promise<AccountRecord | null> {
    const redisKey = this.keys.account(key);
    const fields = await this.opts.connection.client.hgetall(redisKey);
    if (!fields.v) {
      this.known.delete(key);
      return null;
    }
    let data: unknown;
    try {
      data = JSON.parse(this.opts.cipher.open(fields.v, redisKey));
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('corrupt', `Redis key ${redisKey} does not hold an account record (not JSON)`);
    }
    const usage = Number(fields.usage_count ?? 0);
    const lastUsed = fields.last_used ? Number(fields.last_used) : null;
    const parsed = accountRecordSchema.safeParse({ ...(data as object), usage_count: usage, last_used: lastUsed });
    if (!parsed.success) throw new StoreError('corrupt', `Redis key ${redisKey} is corrupt: ${describeIssues(parsed.error)}`);
    this.known.set(key, { fp: fields.fp ?? '', usage, record: structuredClone(parsed.data) });
    return parsed.data;
  }

  private async onRemote(change: StoreChange): Promise<void> {
    if (change.kind === 'bench') {
      const bench = await this.shared.loadBench(change.key).catch(() => null);
      if (bench) this.deliver({ type: 'bench', email: change.key, ...bench });
      return;
    }
    if (change.kind === 'document') {
      this.deliver({ type: 'document', name: change.key });
      return;
    }
    if (change.kind === 'pin') {
      this.deliver({ type: 'pin', session: change.session, email: change.key });
      return;
    }
    if (change.kind !== 'account' && change.kind !== 'removed') return;
    if (change.kind === 'removed') this.known.delete(change.key);
    try {
      const record = change.kind === 'removed' ? null : await this.read(change.key);
      this.deliver(record ? { type: 'upsert', record } : { type: 'removed', email: change.key });
    } catch (err) {
      this.opts.log?.error({ account: change.key, err: (err as Error).message }, 'could not read an account another instance changed');
    }
  }

  /**
   * After Redis was away: everything is re-read. An account this instance knew that Redis lost
   * (a Redis restarted without persistence) is written back; one logged out meanwhile is
   * reported removed.
   */
  async resync(): Promise<void> {
    try {
      const missing = new Map([...this.known].map(([key, known]) => [key, known.record]));
      for (const record of await this.load()) {
        missing.delete(accountKey(record.email));
        this.deliver({ type: 'upsert', record });
      }
      for (const bench of await this.loadBenches()) this.deliver({ type: 'bench', ...bench });
      // A document replaced while cut off sent a message this instance missed: its owner re-reads.
      for (const name of this.documents) this.deliver({ type: 'document', name });
      for (const [key, record] of missing) {
        this.known.delete(key);
        if (await this.opts.connection.client.exists(this.keys.removed(key))) {
          this.deliver({ type: 'removed', email: key });
        } else {
          this.opts.log?.warn({ account: record.email }, 'Redis lost an account this instance holds: writing it back');
          await this.save(record);
        }
      }
    } catch (err) {
      this.opts.log?.error({ err: (err as Error).message }, 'could not re-read the pool from Redis');
    }
  }

  private deliver(change: RemoteAccountChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}
