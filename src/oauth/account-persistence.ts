import type { Logger } from '../logging/logger.js';
import type { TokenStore } from '../store/token-store.js';
import { accountKey, liveSnapshot } from '../store/account-record.js';
import type { Account } from './account.js';
import type { Clock } from './clock.js';

/** Usage statistics reach the store at most this often per account: never a keyring write per request. */
export const USAGE_WRITE_INTERVAL_MS = 30_000;
const FAILED_WRITE_RETRY_MS = 30_000;

/**
 * Writes accounts through to the token store. Each write stores the account as it is when the
 * write starts, and writes of one account run one at a time in order, so a later write can never
 * put back an older (dead) refresh token.
 */
export class AccountPersistence {
  private readonly tails = new Map<string, Promise<boolean>>();
  /** A queued write not yet started, which a later save of the same account can share. */
  private readonly notStarted = new Map<string, { account: Account; write: Promise<boolean> }>();
  private readonly usageTimers = new Map<string, unknown>();
  private readonly lastWrite = new Map<string, number>();
  private readonly failed = new Map<string, Account>();
  private retryTimer: unknown = null;

  constructor(
    readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Persists the account now; resolves true once durable, false when the write failed (it is retried). */
  save(account: Account): Promise<boolean> {
    const key = account.key;
    const queued = this.notStarted.get(key);
    // Only the same account object: after a delete and a new login of the email, it is a new one.
    if (queued?.account === account) return queued.write;
    const previous = this.tails.get(key) ?? Promise.resolve(true);
    const write = previous.then(() => {
      if (this.notStarted.get(key)?.write === write) this.notStarted.delete(key);
      return this.write(key, account);
    });
    this.notStarted.set(key, { account, write });
    this.tails.set(key, write);
    void write.finally(() => {
      if (this.tails.get(key) === write) this.tails.delete(key);
    });
    return write;
  }

  /** Removes the account from the store after any write of it already under way. */
  async remove(email: string): Promise<void> {
    const key = accountKey(email);
    this.cancelUsageWrite(key);
    this.failed.delete(key);
    this.notStarted.delete(key);
    const previous = this.tails.get(key) ?? Promise.resolve(true);
    const removal = previous.then(async () => {
      await this.store.remove(email);
      return true;
    });
    this.tails.set(key, removal.catch(() => false));
    await removal;
  }

  /** A use of the account changed its statistics: write them within USAGE_WRITE_INTERVAL_MS. */
  noteUsage(account: Account): void {
    const key = account.key;
    if (this.usageTimers.has(key)) return;
    const since = this.clock.now() - (this.lastWrite.get(key) ?? 0);
    const delay = Math.max(0, USAGE_WRITE_INTERVAL_MS - since);
    this.usageTimers.set(
      key,
      this.clock.setTimeout(() => {
        this.usageTimers.delete(key);
        if (!account.retired) void this.save(account);
      }, delay),
    );
  }

  /** At shutdown: every pending usage write and failed write, now. */
  async flush(accounts: Iterable<Account>): Promise<void> {
    const pending: Promise<boolean>[] = [];
    for (const account of accounts) {
      const key = accountKey(account.record.email);
      if (this.usageTimers.has(key) || this.failed.has(key)) {
        this.cancelUsageWrite(key);
        pending.push(this.save(account));
      }
    }
    await Promise.all([...pending, ...this.tails.values()]);
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private cancelUsageWrite(key: string): void {
    const timer = this.usageTimers.get(key);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.usageTimers.delete(key);
  }

  private async write(key: string, account: Account): Promise<boolean> {
    if (account.retired) return true;
    try {
      const { record } = account;
      const now = this.clock.now();
      // A utilization snapshot whose window has reset says nothing any more: it is not kept.
      await this.store.save({
        ...record,
        scopes: [...record.scopes],
        utilization_5h: liveSnapshot(record.utilization_5h, now),
        utilization_7d: liveSnapshot(record.utilization_7d, now),
      });
      this.lastWrite.set(key, this.clock.now());
      this.failed.delete(key);
      return true;
    } catch (err) {
      this.log.error(
        { account: account.record.email, store: this.store.kind, err: (err as Error).message },
        'could not persist the account; its tokens stay in memory and the write is retried',
      );
      this.failed.set(key, account);
      this.scheduleRetry();
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      for (const account of this.failed.values()) if (!account.retired) void this.save(account);
    }, FAILED_WRITE_RETRY_MS);
  }
}
