import type { OAuthSettings } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import { accountKey } from '../store/account-record.js';
import { errorMessage } from '../store/keytar.js';
import type { Account } from './account.js';
import type { AccountPool } from './account-pool.js';
import type { Clock } from './clock.js';
import { LocalRefreshLock, type RefreshLock, type RefreshRight } from './refresh-lock.js';
import { RefreshLog, type RefreshTrigger } from './refresh-log.js';
import { recordFromTokens } from './token-fields.js';
import { TokenEndpointError, type TokenAnswer, type TokenClient } from './token-client.js';

/** Timed refreshes of different accounts start at least this far apart, so one crash cannot cost every login. */
export const REFRESH_SPACING_MS = 2_000;
/** Refresh tokens already answered for, remembered so none is ever sent twice. */
const MAX_SPENT = 10_000;

type RefresherSettings = Pick<OAuthSettings, 'enable_auto_refresh' | 'refresh_lead_seconds' | 'refresh_retry_seconds'>;

interface Timer {
  handle: unknown;
  at: number;
}

/** After an upstream refused an account's token: what the request should do next. */
export type RejectionOutcome = 'retry' | 'needs_login' | 'move_on';

/**
 * The one owner of token refresh: single-flight per account (a RefreshLock guards it across
 * processes), on a timer at expiry − lead spread REFRESH_SPACING_MS apart, and on demand.
 * `needs_login` follows only the token endpoint's verdict (invalid_grant). The result of a
 * refresh for an account deleted or replaced meanwhile is dropped.
 */
export class Refresher {
  private readonly timers = new Map<string, Timer>();
  /** Epoch ms of the last timed refresh start per account, for the spacing. */
  private readonly started = new Map<string, number>();
  private readonly spent = new Set<string>();
  private readonly unsubscribe: Array<() => void>;
  private closed = false;
  private readonly steps: RefreshLog;

  constructor(
    private readonly pool: AccountPool,
    private readonly tokens: TokenClient,
    private settings: RefresherSettings,
    private readonly log: Logger,
    private readonly lock: RefreshLock = new LocalRefreshLock(),
  ) {
    this.steps = new RefreshLog(log);
    const reschedule = (email: string | null) => {
      const account = email === null ? undefined : this.pool.get(email);
      if (account) this.schedule(account);
      else if (email !== null) this.unschedule(accountKey(email));
    };
    const { events } = pool;
    this.unsubscribe = [
      events.on('account_added', (e) => reschedule(e.account)),
      events.on('account_removed', (e) => reschedule(e.account)),
      events.on('needs_login', (e) => reschedule(e.account)),
      events.on('banned', (e) => reschedule(e.account)),
    ];
  }

  private get clock(): Clock {
    return this.pool.clock;
  }

  configure(settings: RefresherSettings): void {
    this.settings = settings;
    for (const account of this.pool.list()) this.schedule(account);
  }

  /** Plans the account's timed refresh again (its tokens changed on another instance). */
  reschedule(account: Account): void {
    this.schedule(account);
  }

  /** When the timed refresh of the account fires (epoch ms), or null when none is scheduled. */
  scheduledAt(account: Account): number | null {
    return this.timers.get(accountKey(account.email))?.at ?? null;
  }

  /** Refreshes now, sharing a refresh already under way. Rejects with the token endpoint's error. */
  refresh(account: Account, trigger: RefreshTrigger = 'requested'): Promise<void> {
    if (account.refreshing) return account.refreshing;
    this.steps.started(account, trigger);
    const run = this.run(account).finally(() => {
      account.refreshing = null;
    });
    account.refreshing = run;
    return run;
  }

  /** Makes sure the account's token can be used now, refreshing first when it is inside the lead window. */
  async prepare(account: Account): Promise<boolean> {
    if (account.refreshing) await account.refreshing.catch(() => {});
    const now = this.clock.now();
    if (account.availability(now).state !== 'usable') return false;
    const until = account.tokenUsableUntil();
    if (until - this.settings.refresh_lead_seconds * 1000 > now) return true;
    const expired = until <= now;
    if (!account.record.refresh_token || (!expired && account.refreshBackoffUntil > now)) return !expired;
    try {
      await this.refresh(account, 'expiring');
    } catch {
      // A transient failure leaves a token that may still work.
    }
    return account.availability(this.clock.now()).state === 'usable' && account.tokenUsableUntil() > this.clock.now();
  }

  /**
   * After an upstream refused `refusedToken`: refresh unless someone already replaced it.
   * 'retry': a new token is ready. 'needs_login': only a new login helps. 'move_on': try another
   * account (the token endpoint failed transiently, or the account is gone).
   */
  async afterRejection(account: Account, refusedToken: string): Promise<RejectionOutcome> {
    if (account.refreshing) await account.refreshing.catch(() => {});
    if (account.record.access_token === refusedToken) account.refusedToken = refusedToken;
    const state = account.availability(this.clock.now()).state;
    if (state === 'needs_login') return 'needs_login';
    if (state !== 'usable') return 'move_on';
    if (account.record.access_token !== refusedToken) return 'retry';
    try {
      await this.refresh(account, 'refused');
    } catch {
      return account.availability(this.clock.now()).state === 'needs_login' ? 'needs_login' : 'move_on';
    }
    return account.retired ? 'move_on' : 'retry';
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe) off();
    for (const key of [...this.timers.keys()]) this.unschedule(key);
    // A refresh under way has already spent the old refresh token: let it store the new one.
    await Promise.allSettled(this.pool.list().map((a) => a.refreshing).filter(Boolean));
  }

  private async run(account: Account): Promise<void> {
    const key = accountKey(account.email);
    this.unschedule(key);
    const before = account.record;
    let right: RefreshRight;
    const asked = performance.now();
    try {
      right = await this.lock.acquire(key);
    } catch (err) {
      // No refresh right (a shared store out of reach): nobody refreshes; the timer tries again.
      this.log.warn({ account: account.email, err: (err as Error).message }, 'no refresh right; the refresh waits');
      this.steps.failed(account, `no refresh right: ${(err as Error).message}`);
      this.schedule(account);
      throw err;
    }
    this.steps.rightTaken(account, asked);
    try {
      // Another process refreshed while this one waited for the right; its tokens were handed over.
      if (account.record !== before && account.record.refresh_token !== before.refresh_token) {
        this.steps.handedOver(account);
        this.schedule(account);
        return;
      }
      await this.exchange(account);
    } catch (err) {
      this.steps.failed(account, (err as Error).message);
      throw err;
    } finally {
      await right.release();
    }
  }

  private async exchange(account: Account): Promise<void> {
    const before = account.record;
    const refreshToken = before.refresh_token;
    if (account.retired) throw new TokenEndpointError('rejected', undefined, 'account_removed', 'the account left the pool');
    if (before.verdict?.state === 'banned') {
      throw new TokenEndpointError('rejected', undefined, 'banned', `the account is banned: ${before.verdict.reason}`);
    }
    if (!refreshToken) throw new TokenEndpointError('rejected', undefined, 'no_refresh_token', 'this account has no refresh token');
    if (this.spent.has(refreshToken)) {
      throw new TokenEndpointError('rejected', undefined, 'spent_refresh_token', 'this refresh token was already used');
    }
    let answer: TokenAnswer;
    const called = performance.now();
    try {
      answer = await this.tokens.refresh(refreshToken, before.scopes);
    } catch (err) {
      const endpoint = err instanceof TokenEndpointError ? err : undefined;
      this.steps.answered(account, endpoint?.status, called, endpoint ? endpoint.error : errorMessage(err));
      if (endpoint?.isInvalidGrant) this.spend(refreshToken);
      // Deleted, or replaced by a new login meanwhile: this outcome is about tokens nobody holds any more.
      if (!account.retired) this.failed(account, err);
      throw err;
    }
    this.steps.answered(account, answer.status, called);
    const response = answer.tokens;
    // Rotated: the old refresh token is dead. An endpoint that sends none keeps the old one alive.
    const rotated = !!response.refresh_token && response.refresh_token !== refreshToken;
    if (rotated) this.spend(refreshToken);
    if (account.retired) {
      this.steps.failed(account, 'the account left the pool during the refresh; its tokens are dropped');
      return;
    }
    const now = this.clock.now();
    account.refusedToken = null;
    account.refreshBackoffUntil = 0;
    account.lastRefreshFailureAt = 0;
    account.lastError = null;
    // The old refresh token is dead now: the new one is in the store before anyone relies on it.
    await this.pool.applyRefresh(account, {
      ...recordFromTokens(response, now, before),
      refresh_token: response.refresh_token ?? refreshToken,
      last_refresh_at: now,
    });
    this.steps.persisted(account, rotated);
    this.schedule(account);
    this.log.info({ account: account.email, expires_at: new Date(account.record.expires_at).toISOString() }, 'token refreshed');
  }

  private failed(account: Account, err: unknown): void {
    const message = errorMessage(err);
    if (err instanceof TokenEndpointError && err.isInvalidGrant) {
      this.pool.setVerdict(account, 'needs_login', `refresh refused: ${message}`);
      return;
    }
    const now = this.clock.now();
    account.lastError = `refresh failed (will retry): ${message}`;
    account.lastRefreshFailureAt = now;
    account.refreshBackoffUntil = now + this.settings.refresh_retry_seconds * 1000;
    this.log.warn({ account: account.email, err: message }, 'token refresh failed; keeping the current token');
    this.pool.refreshFailed(account, account.lastError);
    this.schedule(account);
  }

  private spend(refreshToken: string): void {
    this.spent.add(refreshToken);
    if (this.spent.size > MAX_SPENT) this.spent.delete(this.spent.values().next().value!);
  }

  private schedule(account: Account): void {
    const key = accountKey(account.email);
    this.unschedule(key);
    const { record } = account;
    if (this.closed || !this.settings.enable_auto_refresh || account.retired || record.verdict || !record.refresh_token) return;
    const due = Math.max(account.tokenUsableUntil() - this.settings.refresh_lead_seconds * 1000, account.refreshBackoffUntil);
    const now = this.clock.now();
    const at = this.freeSlot(key, Math.max(due, now));
    if (at <= now) this.start(account, key, now);
    else this.arm(account, key, at);
  }

  private arm(account: Account, key: string, at: number): void {
    const handle = this.clock.setTimeout(() => this.fire(account, key), Math.max(0, at - this.clock.now()));
    this.timers.set(key, { handle, at });
  }

  private fire(account: Account, key: string): void {
    this.timers.delete(key);
    const now = this.clock.now();
    // Timers that fire together (after a suspend, or on equal expiries) still start apart.
    const slot = this.freeSlot(key, now);
    if (slot > now) {
      this.arm(account, key, slot);
      return;
    }
    this.start(account, key, now);
  }

  private start(account: Account, key: string, now: number): void {
    this.started.set(key, now);
    this.refresh(account, 'timer').catch(() => {});
  }

  /** The earliest time at or after `from` that is REFRESH_SPACING_MS away from every other timed refresh. */
  private freeSlot(key: string, from: number): number {
    const taken: number[] = [];
    for (const [other, timer] of this.timers) if (other !== key) taken.push(timer.at);
    for (const [other, at] of this.started) if (other !== key) taken.push(at);
    taken.sort((a, b) => a - b);
    let at = from;
    for (const t of taken) if (Math.abs(at - t) < REFRESH_SPACING_MS) at = t + REFRESH_SPACING_MS;
    return at;
  }

  private unschedule(key: string): void {
    const timer = this.timers.get(key);
    if (timer) this.clock.clearTimeout(timer.handle);
    this.timers.delete(key);
  }
}
