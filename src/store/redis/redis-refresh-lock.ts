import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { StoreError } from '../token-store.js';
import type { ChangeFeed } from './change-feed.js';
import type { RedisConnection } from './redis-connection.js';

/** Deletes the lock only if this owner still holds it: never a lock that expired and was taken. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
/** Extends the lock only if this owner still holds it. */
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisRefreshLockOptions {
  /** Lock expiry: how long a holder that died mid-refresh keeps the others waiting. */
  ttlMs: number;
  /** How long acquire() waits for another holder (or for Redis to come back) before giving up. */
  waitMs: number;
  log?: Pick<Logger, 'warn'>;
}

/** The right to refresh one account across every instance on the Redis; released by its owner only. */
export interface RedisRefreshRight {
  readonly owner: string;
  release(): Promise<void>;
}

/**
 * The account pool's refresh seam (RefreshLock) across instances: per account `SET key owner NX
 * PX ttl`, extended while the refresh runs, released by compare-and-delete. A waiter retries when
 * the holder announces new tokens or lets go, and at the latest when the lock would expire. With
 * Redis away nobody refreshes: acquire() waits for the connection, then gives up.
 */
export class RedisRefreshLock {
  private counter = 0;

  constructor(
    private readonly connection: RedisConnection,
    private readonly feed: ChangeFeed,
    private readonly keyPrefix: string,
    private readonly options: RedisRefreshLockOptions,
  ) {}

  lockKey(accountKey: string): string {
    return `${this.keyPrefix}lock:refresh:${accountKey}`;
  }

  async acquire(accountKey: string): Promise<RedisRefreshRight> {
    const key = this.lockKey(accountKey);
    const owner = `${this.feed.instanceId}:${++this.counter}:${randomBytes(4).toString('hex')}`;
    const deadline = Date.now() + this.options.waitMs;
    const { client } = this.connection;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new StoreError('unavailable', `could not take the refresh lock of ${accountKey} within ${this.options.waitMs} ms`);
      }
      if (this.connection.state !== 'connected') {
        await this.connection.whenConnected(left);
        continue;
      }
      let pttl: number;
      try {
        if ((await client.set(key, owner, 'PX', this.options.ttlMs, 'NX')) === 'OK') return this.right(key, accountKey, owner);
        pttl = await client.pttl(key);
      } catch {
        // The connection is going away: wait for it above once it is marked lost.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      // The holder announces its new tokens and then lets go; poll meanwhile in case a message is lost.
      const wait = Math.max(10, Math.min(pttl > 0 ? pttl : 10, 200, left));
      await this.feed.next((c) => c.key === accountKey && (c.kind === 'lock_free' || c.kind === 'account'), wait);
    }
  }

  private right(key: string, accountKey: string, owner: string): RedisRefreshRight {
    const { client } = this.connection;
    const { ttlMs, log } = this.options;
    const timer = setInterval(() => {
      client.eval(EXTEND, 1, key, owner, String(ttlMs)).then(
        (extended) => {
          if (extended === 0) log?.warn({ account: accountKey }, 'the refresh lock expired while the refresh ran');
        },
        () => undefined,
      );
    }, Math.max(100, Math.floor(ttlMs / 3)));
    timer.unref();
    let released = false;
    return {
      owner,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        try {
          if ((await client.eval(RELEASE, 1, key, owner)) === 1) await this.feed.publish({ kind: 'lock_free', key: accountKey });
        } catch {
          // Redis away: the lock expires by itself.
        }
      },
    };
  }
}
