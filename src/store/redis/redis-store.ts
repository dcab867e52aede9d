import type { Logger } from 'pino';
import { accountKey, type AccountRecord } from '../account-record.js';
import type { RemoteChange, SharedTokenStore } from '../token-store.js';
import { ChangeFeed, type StoreChange } from './change-feed.js';
import { RedisAccountRecords } from './redis-account-records.js';
import type { RedisConnection } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
import { RedisRefreshLock } from './redis-refresh-lock.js';
import { RedisSharedState } from './redis-shared-state.js';
import type { TokenCipher } from './token-cipher.js';

/** An account changed on another instance (or while this one was cut off from Redis). */
export type RemoteAccountChange = RemoteChange;

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
  private readonly records: RedisAccountRecords;
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
    this.records = new RedisAccountRecords(opts.connection, this.keys, opts.cipher, this.location);
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

  load(): Promise<AccountRecord[]> {
    return this.records.loadAll();
  }

  /** One account as Redis has it now (after taking its refresh right: another holder may have refreshed). */
  async reload(email: string): Promise<AccountRecord | null> {
    return this.records.read(accountKey(email));
  }

  async save(account: AccountRecord): Promise<void> {
    const key = accountKey(account.email);
    if (await this.records.write(key, account)) {
      await this.feed.publish({ kind: 'account', key });
    } else {
      // Newer tokens are in Redis: this write was about dead ones. Hand the pool the current record.
      await this.onRemote({ kind: 'account', key });
    }
  }

  async remove(email: string): Promise<void> {
    const key = accountKey(email);
    await this.records.remove(key);
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
    if (change.kind === 'removed') this.records.forget(change.key);
    try {
      const record = change.kind === 'removed' ? null : await this.records.read(change.key);
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
      const missing = this.records.lastSeen();
      for (const record of await this.load()) {
        missing.delete(accountKey(record.email));
        this.deliver({ type: 'upsert', record });
      }
      for (const bench of await this.loadBenches()) this.deliver({ type: 'bench', ...bench });
      // A document replaced while cut off sent a message this instance missed: its owner re-reads.
      for (const name of this.documents) this.deliver({ type: 'document', name });
      for (const [key, record] of missing) {
        this.records.forget(key);
        if (await this.records.wasRemoved(key)) {
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
