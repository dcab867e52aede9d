import type { Logger } from '../logging/logger.js';
import { accountKey, liveSnapshot, type AccountRecord, type VerdictState } from '../store/account-record.js';
import type { TokenStore } from '../store/token-store.js';
import { Account } from './account.js';
import { AccountPersistence } from './account-persistence.js';
import type { Clock } from './clock.js';
import { PoolEvents, type PoolEvent, type PoolEventName } from './pool-events.js';
import type { ReportedUtilization } from './rate-limit.js';

export interface AccountPoolDeps {
  store: TokenStore;
  log: Logger;
  clock: Clock;
}

/**
 * The registry of accounts: who is in the pool, in login order, and every change to an account
 * that others must hear of. Changes to a record are written through to the TokenStore; each one
 * that matters is announced on `events` (refresher, login flow, console and notifiers listen).
 */
export class AccountPool {
  readonly events: PoolEvents;
  readonly clock: Clock;
  private readonly byKey = new Map<string, Account>();
  private ordered: Account[] = [];
  private nextSeq = 0;
  private readonly persistence: AccountPersistence;

  constructor(private readonly deps: AccountPoolDeps) {
    this.clock = deps.clock;
    this.events = new PoolEvents((err, event) =>
      deps.log.error({ err: (err as Error).message, event: event.type }, 'a pool event listener failed'),
    );
    this.persistence = new AccountPersistence(deps.store, deps.clock, deps.log);
  }

  get store(): TokenStore {
    return this.deps.store;
  }

  /** Loads the stored accounts (announced as account_added, so the refresher schedules them). */
  async load(): Promise<readonly Account[]> {
    const now = this.clock.now();
    for (const record of await this.deps.store.load()) {
      record.utilization_5h = liveSnapshot(record.utilization_5h, now);
      record.utilization_7d = liveSnapshot(record.utilization_7d, now);
      this.insert(record, 'loaded from the store');
    }
    return this.ordered;
  }

  list(): readonly Account[] {
    return this.ordered;
  }

  get(email: string): Account | undefined {
    return this.byKey.get(accountKey(email));
  }

  /**
   * A login's record: a new account, or one replacing the account of the same email (which is
   * retired, so a refresh still running with its tokens is dropped). Durable before it resolves.
   */
  async put(record: AccountRecord): Promise<Account> {
    const existing = this.get(record.email);
    if (existing) {
      existing.retired = true;
      this.ordered = this.ordered.filter((a) => a !== existing);
    }
    const account = this.insert(record, existing ? 'logged in again' : 'logged in', existing?.seq);
    await this.persistence.save(account);
    return account;
  }

  async remove(email: string): Promise<boolean> {
    const account = this.takeOut(email, 'removed by the admin API');
    if (!account) return false;
    await this.persistence.remove(account.email);
    return true;
  }

  async removeAll(): Promise<number> {
    const emails = this.ordered.map((a) => a.email);
    for (const email of emails) await this.remove(email);
    return emails.length;
  }

  /**
   * A record another instance stored (a login, a refresh, a verdict): it replaces this
   * instance's, nothing is written back. New tokens clear what was judged about the old ones.
   */
  adopt(record: AccountRecord): Account {
    const existing = this.get(record.email);
    if (!existing) return this.insert(record, 'added on another instance', undefined, { remote: true });
    const before = existing.record;
    existing.record = record;
    if (before.access_token !== record.access_token || before.refresh_token !== record.refresh_token) {
      existing.refusedToken = null;
      existing.refreshBackoffUntil = 0;
      existing.lastRefreshFailureAt = 0;
      existing.lastError = null;
    }
    return existing;
  }

  /** Removed on another instance: out of this pool too, nothing is written. */
  forget(email: string): boolean {
    return this.takeOut(email, 'removed on another instance', { remote: true }) !== undefined;
  }

  /** Another instance's rate-limit bench: the same as seeing the limit here, but not announced again. */
  adoptBench(account: Account, until: number): void {
    this.rateLimited(account, until, undefined, { remote: true });
  }

  private takeOut(email: string, reason: string, extra: Partial<PoolEvent> = {}): Account | undefined {
    const account = this.get(email);
    if (!account) return undefined;
    account.retired = true;
    this.byKey.delete(accountKey(email));
    this.ordered = this.ordered.filter((a) => a !== account);
    this.emit('account_removed', account, reason, extra);
    return account;
  }

  /** A refresh's new tokens; stored before this resolves, so nobody uses a token whose refresh token could be lost. */
  async applyRefresh(account: Account, tokens: Partial<AccountRecord>): Promise<void> {
    account.record = { ...account.record, ...tokens };
    await this.persistence.save(account);
    this.emit('refreshed', account, 'token refreshed', { until: account.record.expires_at });
    this.recovered(account);
  }

  /** A lasting verdict only a new login lifts; the account is out of rotation and of the refresh schedule. */
  setVerdict(account: Account, state: VerdictState, reason: string, provider?: string): void {
    if (account.retired || account.record.verdict?.state === state) return;
    account.record = { ...account.record, verdict: { state, reason, at: this.clock.now() } };
    this.emit(state, account, reason, { provider });
    void this.persistence.save(account);
  }

  /** The subscription limit is reached until `until`. */
  rateLimited(account: Account, until: number, provider?: string, extra: Partial<PoolEvent> = {}): void {
    const wasLimited = account.limits.limitedUntil >= until;
    account.limits.limitedUntil = until;
    account.troubled = true;
    if (!wasLimited) this.emit('rate_limited', account, 'subscription rate limit reached', { until, provider, ...extra });
  }

  /** A short pause after a failure that is about this moment, not the account. */
  coolDown(account: Account, until: number, reason: string): void {
    account.limits.cooldownUntil = until;
    account.limits.cooldownReason = reason;
    account.troubled = true;
  }

  refreshFailed(account: Account, reason: string): void {
    account.troubled = true;
    this.emit('refresh_failed', account, reason);
  }

  /** The account served again after a limit, a cooldown or a failed refresh. */
  recovered(account: Account, provider?: string): void {
    if (!account.troubled) return;
    account.troubled = false;
    this.emit('recovered', account, 'serving again', { provider });
  }

  /** No account can serve a request; `until` when the pool frees up by itself (else it needs a login). */
  exhausted(reason: string, options: { until?: number; provider?: string } = {}): void {
    this.events.emit({ type: 'pool_exhausted', account: null, reason, at: this.clock.now(), ...defined(options) });
  }

  noteAttempt(account: Account): void {
    account.attempts++;
  }

  /** A client request this account served: usage statistics, written within the usage interval. */
  noteServed(account: Account): void {
    account.record.usage_count++;
    account.record.last_used = this.clock.now();
    this.persistence.noteUsage(account);
  }

  /** Utilization a response reported: part of the record (it survives a restart), written with the usage. */
  noteUtilization(account: Account, reported: ReportedUtilization): void {
    if (reported.utilization_5h) account.record.utilization_5h = reported.utilization_5h;
    if (reported.utilization_7d) account.record.utilization_7d = reported.utilization_7d;
    this.persistence.noteUsage(account);
  }

  /** At shutdown: pending usage writes and failed writes, now. */
  flush(): Promise<void> {
    return this.persistence.flush(this.ordered);
  }

  private insert(record: AccountRecord, reason: string, seq = this.nextSeq++, extra: Partial<PoolEvent> = {}): Account {
    const account = new Account(record, seq);
    this.byKey.set(accountKey(record.email), account);
    this.ordered = [...this.ordered, account].sort((a, b) => a.seq - b.seq);
    this.emit('account_added', account, reason, extra);
    return account;
  }

  private emit(type: PoolEventName, account: Account, reason: string, extra: Partial<PoolEvent> = {}): void {
    this.events.emit({ type, account: account.email, reason, at: this.clock.now(), ...defined(extra) });
  }
}

function defined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
