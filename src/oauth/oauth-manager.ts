import type { OAuthSettings } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import type { TokenStore } from '../store/token-store.js';
import { accountKey, newPoolAccount, type AccountRecord, type PoolAccount } from './account.js';
import { AccountPersistence } from './account-persistence.js';
import { AccountScheduler, isUsable } from './account-scheduler.js';
import { AuthRequiredNotice } from './auth-required.js';
import { systemClock, type Clock } from './clock.js';
import { PendingLogins, parsePastedCode, type PendingLogin } from './pending-logins.js';
import { emptyRateLimitState } from './rate-limit.js';
import { TokenClient, TokenEndpointError, type TokenResponse } from './token-client.js';

export interface OAuthManagerDeps {
  store: TokenStore;
  log: Logger;
  clock?: Clock;
  /** Where users reach this service (for the curl command in 401s and banners). */
  serviceUrl: () => string;
  /** Where the auth-required banner goes; stderr by default. */
  printBanner?: (text: string) => void;
}

/** After a failed refresh, an expired token is not refreshed again on demand before this. */
const ON_DEMAND_RETRY_MS = 30_000;
/** The login in auth-required 401s is replaced when it has less time left than this. */
const AUTH_LOGIN_MIN_REMAINING_MS = 3 * 60_000;

type TokenFields = Pick<
  AccountRecord,
  'access_token' | 'expires_at' | 'scopes' | 'account_uuid' | 'organization_uuid' | 'organization_name' | 'status' | 'last_error'
>;

/** The fields a token response sets; what it leaves out is kept from `base`. */
function recordFromTokens(
  response: TokenResponse,
  now: number,
  base: Pick<AccountRecord, 'scopes' | 'account_uuid' | 'organization_uuid' | 'organization_name'>,
): TokenFields {
  return {
    access_token: response.access_token,
    expires_at: now + response.expires_in * 1000,
    scopes: response.scope ? response.scope.split(/\s+/).filter(Boolean) : base.scopes,
    account_uuid: response.account?.uuid ?? base.account_uuid,
    organization_uuid: response.organization?.uuid ?? base.organization_uuid,
    organization_name: response.organization?.name ?? base.organization_name,
    status: 'active',
    last_error: null,
  };
}

/** A login or exchange failure with the HTTP status the admin API answers with. */
export class LoginError extends Error {
  constructor(
    readonly status: 400 | 502,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LoginError';
  }
}

/**
 * The pool of Claude accounts: logins (PKCE), refresh (single-flight per account, on a timer and
 * on demand), write-through persistence and the per-request choice of account.
 */
export class OAuthManager {
  private readonly accounts = new Map<string, PoolAccount>();
  /** Stable order for rotation. */
  private ordered: PoolAccount[] = [];
  readonly scheduler: AccountScheduler;
  readonly pending: PendingLogins;
  readonly persistence: AccountPersistence;
  private readonly tokens: TokenClient;
  private readonly notice: AuthRequiredNotice;
  readonly clock: Clock;
  private closed = false;
  /** The pending login handed out in auth-required 401s. */
  private authLogin: PendingLogin | null = null;

  constructor(
    private settings: OAuthSettings,
    private readonly deps: OAuthManagerDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.scheduler = new AccountScheduler(settings.strategy);
    this.pending = new PendingLogins(this.clock);
    this.persistence = new AccountPersistence(deps.store, this.clock, deps.log);
    this.tokens = new TokenClient(settings);
    this.notice = new AuthRequiredNotice(this.clock, deps.printBanner);
  }

  get oauthSettings(): OAuthSettings {
    return this.settings;
  }

  get store(): TokenStore {
    return this.deps.store;
  }

  /** Loads the stored accounts; those whose token expired while the service was down are refreshed. */
  async init(): Promise<AccountRecord[]> {
    const records = await this.deps.store.load();
    for (const record of records) this.insert(record);
    const now = this.clock.now();
    for (const account of this.ordered) {
      if (this.needsRefresh(account, now) && account.record.status === 'active' && account.record.refresh_token) {
        this.refresh(account).catch(() => {});
      } else {
        this.scheduleRefresh(account);
      }
    }
    return this.ordered.map((a) => a.record);
  }

  configure(settings: OAuthSettings): void {
    this.settings = settings;
    this.tokens.configure(settings);
    this.scheduler.configure(settings.strategy);
    for (const account of this.ordered) this.scheduleRefresh(account);
  }

  list(): readonly PoolAccount[] {
    return this.ordered;
  }

  get(email: string): PoolAccount | undefined {
    return this.accounts.get(accountKey(email));
  }

  // ---- login -------------------------------------------------------------------------------

  startLogin(): PendingLogin {
    return this.pending.start(this.settings);
  }

  /** Completes a login with what the user pasted; the account is persisted before this returns. */
  async exchangeCode(pasted: string, email?: string): Promise<PoolAccount> {
    const { code, state } = parsePastedCode(pasted);
    if (!code) throw new LoginError(400, 'No authorization code was given: paste CODE#STATE as the callback page shows it.');
    const login = this.pending.find(state);
    if ('error' in login) throw new LoginError(400, login.error);

    let response: TokenResponse;
    try {
      response = await this.tokens.exchangeCode(code, login.state, login.verifier);
    } catch (err) {
      if (err instanceof TokenEndpointError) {
        if (err.kind === 'rejected') {
          throw new LoginError(400, `The token endpoint refused the code: ${err.message}`, {
            error: err.error,
            error_description: err.description,
          });
        }
        throw new LoginError(502, `The token endpoint could not be reached or failed: ${err.message}`, {
          error: err.error,
          error_description: err.description,
        });
      }
      throw err;
    }
    this.pending.complete(login.state);

    const key = email?.trim() || response.account?.email_address || (await this.tokens.profileEmail(response.access_token));
    if (!key) {
      throw new LoginError(400, 'No account email: neither the token response nor the profile has one, so pass account_email with the code.');
    }
    const existing = this.accounts.get(accountKey(key));
    // A refresh still running with the old login's tokens must not land on top of the new login.
    if (existing?.refreshing) await existing.refreshing.catch(() => {});
    const now = this.clock.now();
    const record: AccountRecord = {
      ...recordFromTokens(response, now, {
        scopes: [...this.settings.scopes],
        account_uuid: null,
        organization_uuid: null,
        organization_name: null,
      }),
      email: existing?.record.email ?? key,
      refresh_token: response.refresh_token ?? null,
      created_at: existing?.record.created_at ?? now,
      usage_count: existing?.record.usage_count ?? 0,
      last_used: existing?.record.last_used ?? null,
      last_refresh_at: null,
    };
    const account = existing ?? this.insert(record);
    if (existing) {
      existing.record = record;
      existing.limits = emptyRateLimitState();
      existing.refreshBackoffUntil = 0;
      existing.lastRefreshFailureAt = 0;
    }
    await this.persistence.save(account);
    this.scheduleRefresh(account);
    this.deps.log.info({ account: record.email, expires_at: new Date(record.expires_at).toISOString() }, 'account logged in');
    return account;
  }

  // ---- refresh -----------------------------------------------------------------------------

  private needsRefresh(account: PoolAccount, now: number): boolean {
    return account.record.expires_at - this.settings.refresh_lead_seconds * 1000 <= now;
  }

  /**
   * Refreshes an account's tokens, single-flight: everyone asking while a refresh is under way
   * shares it. The rotated refresh token is persisted before the promise resolves, so no caller
   * uses a new access token whose refresh token could still be lost.
   */
  refresh(account: PoolAccount): Promise<void> {
    if (account.refreshing) return account.refreshing;
    const run = this.runRefresh(account).finally(() => {
      account.refreshing = null;
    });
    account.refreshing = run;
    return run;
  }

  private async runRefresh(account: PoolAccount): Promise<void> {
    const before = account.record;
    if (!before.refresh_token) {
      throw new TokenEndpointError('rejected', undefined, 'no_refresh_token', 'this account has no refresh token');
    }
    const statusBefore = before.status === 'refreshing' ? 'active' : before.status;
    this.clearTimer(account);
    before.status = 'refreshing';
    let response: TokenResponse;
    try {
      response = await this.tokens.refresh(before.refresh_token, before.scopes);
    } catch (err) {
      // Deleted, or replaced by a new login meanwhile: this outcome is about tokens nobody holds any more.
      if (account.removed || account.record !== before) throw err;
      const e = err as TokenEndpointError;
      if (e instanceof TokenEndpointError && e.isInvalidGrant) {
        this.markReauthRequired(account, `refresh refused: ${e.message}`);
      } else {
        const now = this.clock.now();
        before.status = statusBefore;
        before.last_error = `refresh failed (will retry): ${e.message}`;
        account.lastRefreshFailureAt = now;
        account.refreshBackoffUntil = now + this.settings.refresh_retry_seconds * 1000;
        this.deps.log.warn({ account: before.email, err: e.message }, 'token refresh failed; keeping the current token');
        if (statusBefore === 'active') this.scheduleAt(account, account.refreshBackoffUntil);
      }
      throw err;
    }
    if (account.removed || account.record !== before) return;
    const now = this.clock.now();
    account.record = {
      ...before,
      ...recordFromTokens(response, now, before),
      refresh_token: response.refresh_token ?? before.refresh_token,
      last_refresh_at: now,
      status: 'refreshing',
    };
    account.refreshBackoffUntil = 0;
    account.lastRefreshFailureAt = 0;
    // The old refresh token is dead now: the new one must be in the store before anyone relies on it.
    await this.persistence.save(account);
    // A banned organization stays out of rotation: new tokens do not lift the ban.
    account.record.status = statusBefore === 'error' ? 'error' : 'active';
    this.scheduleRefresh(account);
    this.deps.log.info(
      { account: account.record.email, expires_at: new Date(account.record.expires_at).toISOString() },
      'token refreshed',
    );
  }

  /** Makes sure the account's token can be used now, refreshing first when it is inside the lead window. */
  async ensureFresh(account: PoolAccount): Promise<boolean> {
    if (account.refreshing) await account.refreshing.catch(() => {});
    const now = this.clock.now();
    const { record } = account;
    if (account.removed || record.status === 'reauth_required' || record.status === 'error') return false;
    if (!this.needsRefresh(account, now)) return true;
    const expired = record.expires_at <= now;
    if (!record.refresh_token) return !expired;
    if (!expired && account.refreshBackoffUntil > now) return true;
    // An expired token is refreshed on demand, but not by every request while the endpoint is failing.
    if (expired && now - account.lastRefreshFailureAt < ON_DEMAND_RETRY_MS) return false;
    try {
      await this.refresh(account);
      return true;
    } catch {
      return account.record.status !== 'reauth_required' && account.record.expires_at > this.clock.now();
    }
  }

  /**
   * After an upstream 401: refresh unless someone already replaced the token that was refused.
   * 'retry': a new token is ready. 'reauth': only a new login helps. 'wait': the token endpoint
   * failed transiently; the credentials stay, and the refused token counts as expired, so the
   * account is skipped until a refresh (on demand or on the retry timer) succeeds.
   */
  async refreshAfterRejection(account: PoolAccount, refusedToken: string): Promise<'retry' | 'reauth' | 'wait'> {
    if (account.refreshing) await account.refreshing.catch(() => {});
    const { record } = account;
    if (record.access_token !== refusedToken) {
      if (record.status === 'active' || record.status === 'refreshing') return 'retry';
      return record.status === 'reauth_required' ? 'reauth' : 'wait';
    }
    if (record.status === 'reauth_required' || !record.refresh_token) return 'reauth';
    try {
      await this.refresh(account);
      return 'retry';
    } catch {
      if (account.record.status === 'reauth_required') return 'reauth';
      account.record.expires_at = Math.min(account.record.expires_at, this.clock.now());
      return 'wait';
    }
  }

  markReauthRequired(account: PoolAccount, reason: string): void {
    this.takeOutOfRotation(account, 'reauth_required', reason, 'account needs a new login');
  }

  /** Out of rotation until a new login, for reasons a refresh cannot fix (a banned organization). */
  markError(account: PoolAccount, reason: string): void {
    this.takeOutOfRotation(account, 'error', reason, 'account taken out of rotation');
  }

  private takeOutOfRotation(account: PoolAccount, status: 'reauth_required' | 'error', reason: string, message: string): void {
    this.clearTimer(account);
    account.record.status = status;
    account.record.last_error = reason;
    this.deps.log.warn({ account: account.record.email, reason }, message);
    void this.persistence.save(account);
  }

  markUsed(account: PoolAccount): void {
    account.record.usage_count++;
    account.record.last_used = this.clock.now();
    this.persistence.noteUsage(account);
  }

  private scheduleRefresh(account: PoolAccount): void {
    const { record } = account;
    if (!this.settings.enable_auto_refresh || !record.refresh_token || record.status === 'reauth_required' || record.status === 'error') {
      this.clearTimer(account);
      return;
    }
    const at = Math.max(record.expires_at - this.settings.refresh_lead_seconds * 1000, account.refreshBackoffUntil);
    this.scheduleAt(account, at);
  }

  private scheduleAt(account: PoolAccount, at: number): void {
    this.clearTimer(account);
    if (this.closed || !this.settings.enable_auto_refresh) return;
    account.timer = this.clock.setTimeout(() => {
      account.timer = null;
      this.refresh(account).catch(() => {});
    }, Math.max(0, at - this.clock.now()));
  }

  private clearTimer(account: PoolAccount): void {
    if (account.timer !== null) this.clock.clearTimeout(account.timer);
    account.timer = null;
  }

  // ---- admin -------------------------------------------------------------------------------

  async remove(email: string): Promise<boolean> {
    const account = this.accounts.get(accountKey(email));
    if (!account) return false;
    account.removed = true;
    this.clearTimer(account);
    this.accounts.delete(accountKey(email));
    this.ordered = this.ordered.filter((a) => a !== account);
    this.scheduler.forget(account);
    await this.persistence.remove(account.record.email);
    this.deps.log.info({ account: account.record.email }, 'account removed');
    return true;
  }

  async removeAll(): Promise<number> {
    const emails = this.ordered.map((a) => a.record.email);
    for (const email of emails) await this.remove(email);
    return emails.length;
  }

  /** Usable right now (for status and the startup summary). */
  isHealthy(account: PoolAccount): boolean {
    return isUsable(account, this.clock.now()) && account.record.expires_at > this.clock.now();
  }

  /** The 401 a client gets when no account can serve, with a login URL and the command to finish it. */
  authRequired(reason: string) {
    const now = this.clock.now();
    // One login serves every 401 while it has time left, so failing requests cannot crowd out
    // the login the user is completing.
    if (!this.authLogin || this.authLogin.expiresAt - now < AUTH_LOGIN_MIN_REMAINING_MS || !this.pending.has(this.authLogin.state)) {
      this.authLogin = this.startLogin();
    }
    return this.notice.respond(reason, this.authLogin.loginUrl, this.deps.serviceUrl());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const account of this.ordered) this.clearTimer(account);
    // A refresh under way has already killed the old refresh token: let it store the new one.
    await Promise.allSettled(this.ordered.map((a) => a.refreshing).filter(Boolean));
    await this.persistence.flush(this.ordered);
    await this.tokens.close();
  }

  private insert(record: AccountRecord): PoolAccount {
    const account = newPoolAccount(record);
    if (record.status === 'refreshing') record.status = 'active';
    this.accounts.set(accountKey(record.email), account);
    this.ordered = [...this.ordered, account];
    return account;
  }
}
