import type { OAuthSettings } from '../config/schema.js';
import type { SyntheticResponse } from '../anthropic/errors.js';
import type { Logger } from '../logging/logger.js';
import { accountKey, type AccountRecord } from '../store/account-record.js';
import type { Account } from './account.js';
import type { AccountPool } from './account-pool.js';
import { authRequiredBanner, authRequiredResponse } from './auth-required.js';
import { PendingLogins, parsePastedCode, type PendingLogin } from './pending-logins.js';
import { recordFromTokens } from './token-fields.js';
import { TokenEndpointError, type TokenClient, type TokenResponse } from './token-client.js';

/** The login in auth-required 401s is replaced when it has less time left than this. */
const AUTH_LOGIN_MIN_REMAINING_MS = 3 * 60_000;
const BANNER_INTERVAL_MS = 60_000;

/** Network errors can quote a proxy URL; its user:password must not reach a response. */
const withoutUserinfo = (text: string) => text.replace(/\/\/[^\s/@]*@/g, '//');

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

export interface LoginFlowDeps {
  log: Logger;
  /** Where users reach this service (for the curl command in 401s and banners). */
  serviceUrl: () => string;
  /** Where the auth-required banner goes; stderr by default. */
  printBanner?: (text: string) => void;
}

/**
 * PKCE logins: starting them, completing them with what the user pasted, and the login handed
 * out when nothing can serve. That one starts, and the banner is printed (at most once a
 * minute), on the pool's `pool_exhausted` event and nowhere else; the 401 itself is plain data.
 */
export class LoginFlow {
  readonly pending: PendingLogins;
  private authLogin: PendingLogin | null = null;
  private lastBannerAt = -Infinity;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly pool: AccountPool,
    private readonly tokens: TokenClient,
    private settings: OAuthSettings,
    private readonly deps: LoginFlowDeps,
  ) {
    this.pending = new PendingLogins(pool.clock);
    this.unsubscribe = pool.events.on('pool_exhausted', (event) => {
      if (event.until === undefined) this.loginNeeded(event.reason);
    });
  }

  configure(settings: OAuthSettings): void {
    this.settings = settings;
  }

  start(): PendingLogin {
    return this.pending.start(this.settings);
  }

  /** The 401 for a pool that needs a login, carrying the login the last `pool_exhausted` started. */
  authRequired(reason: string): SyntheticResponse {
    const loginUrl = this.authLogin?.loginUrl ?? this.settings.authorize_url;
    return authRequiredResponse(reason, loginUrl, this.deps.serviceUrl());
  }

  /** Completes a login with what the user pasted; the account is persisted before this returns. */
  async exchange(pasted: string, email?: string): Promise<Account> {
    const { code, state } = parsePastedCode(pasted);
    if (!code) throw new LoginError(400, 'No authorization code was given: paste CODE#STATE as the callback page shows it.');
    const login = await this.pending.findAnywhere(state);
    if ('error' in login) throw new LoginError(400, login.error, { error: 'no_pending_login' });
    const response = await this.exchangeCode(code, login);
    // The code is spent now, whatever follows (a refused account_email too): a retry needs a new login.
    this.pending.complete(login.state);

    const key = await this.accountEmail(response, email?.trim() || undefined);
    if (!key) {
      throw new LoginError(400, 'No account email: neither the token response nor the profile has one, so pass account_email with the code.');
    }
    const existing = this.pool.get(key)?.record;
    const now = this.pool.clock.now();
    const record: AccountRecord = {
      ...recordFromTokens(response, now, { scopes: [...this.settings.scopes], account_uuid: null, organization_uuid: null, organization_name: null }),
      email: existing?.email ?? key,
      refresh_token: response.refresh_token ?? null,
      created_at: existing?.created_at ?? now,
      usage_count: existing?.usage_count ?? 0,
      last_used: existing?.last_used ?? null,
      last_refresh_at: null,
      verdict: null,
      utilization_5h: existing?.utilization_5h ?? null,
      utilization_7d: existing?.utilization_7d ?? null,
    };
    const account = await this.pool.put(record);
    this.deps.log.info({ account: record.email, expires_at: new Date(record.expires_at).toISOString() }, 'account logged in');
    return account;
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * The email the token belongs to keys the account, so one account cannot enter the pool twice
   * under two names; the email the user named only stands in when the token carries none.
   */
  private async accountEmail(response: TokenResponse, named: string | undefined): Promise<string | undefined> {
    const owner = response.account?.email_address || (await this.tokens.profileEmail(response.access_token));
    if (owner && named && accountKey(owner) !== accountKey(named)) {
      throw new LoginError(
        400,
        `This code signs in ${owner}, not ${named}; nothing was stored. Start a new login and sign in as ${named}, or leave out account_email to add ${owner}.`,
        { error: 'account_email_mismatch', token_email: owner, account_email: named },
      );
    }
    return owner || named;
  }

  private async exchangeCode(code: string, login: PendingLogin): Promise<TokenResponse> {
    try {
      return await this.tokens.exchangeCode(code, login.state, login.verifier);
    } catch (err) {
      if (!(err instanceof TokenEndpointError)) throw err;
      const details = { error: err.error, error_description: err.description };
      if (err.kind === 'rejected') throw new LoginError(400, `The token endpoint refused the code: ${err.message}`, details);
      // The endpoint never judged the code, so it is still good and the pending login stays open.
      if (err.status === undefined || err.status >= 500) {
        const cause = err.status === undefined ? err.description : `HTTP ${err.status}: ${err.description}`;
        throw new LoginError(502, `could not reach the token endpoint (${withoutUserinfo(cause)}); the code is still good, paste it again`, {
          error: 'token_endpoint_unreachable',
        });
      }
      throw new LoginError(502, `The token endpoint could not be reached or failed: ${err.message}`, details);
    }
  }

  private loginNeeded(reason: string): void {
    const now = this.pool.clock.now();
    // One login serves every 401 while it has time left, so failing requests cannot crowd out
    // the login the user is completing.
    const login = this.authLogin;
    if (!login || login.expiresAt - now < AUTH_LOGIN_MIN_REMAINING_MS || !this.pending.has(login.state)) {
      this.authLogin = this.start();
    }
    if (now - this.lastBannerAt >= BANNER_INTERVAL_MS) {
      this.lastBannerAt = now;
      const print = this.deps.printBanner ?? ((text: string) => process.stderr.write(text));
      print(authRequiredBanner(reason, this.authLogin!.loginUrl, this.deps.serviceUrl(), this.authLogin!.expiresAt, now));
    }
  }
}
