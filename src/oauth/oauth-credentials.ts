import type { IncomingHttpHeaders } from 'node:http';
import { mergeBetas } from '../anthropic/betas.js';
import type { SyntheticResponse } from '../anthropic/errors.js';
import { isCredentialRefused, isOrganizationBanned, parseUpstreamError } from '../anthropic/upstream-errors.js';
import type {
  AttemptOutcome,
  AttemptVerdict,
  Credential,
  CredentialSession,
  CredentialSource,
  OutgoingHeaders,
  ProxyRequestInfo,
} from '../providers/credentials.js';
import { canTakeRequests, type Account } from './account.js';
import { rateLimitedResponse } from './auth-required.js';
import { logDecision, type DecisionReason } from './decision-log.js';
import { poolAnswer } from './final-answer.js';
import { bare429CooldownMs, recordUnifiedHeaders, refusedAfterRefreshCooldownMs, subscriptionLimitUntil } from './rate-limit.js';
import type { OAuthSubsystem } from './subsystem.js';

interface AccountCredential extends Credential {
  readonly account: Account;
  readonly token: string;
}

function accountCredential(account: Account, beta: string): AccountCredential {
  const token = account.record.access_token;
  return {
    account,
    token,
    label: account.email,
    apply(headers: OutgoingHeaders) {
      headers.authorization = `Bearer ${token}`;
      mergeBetas(headers, beta);
    },
  };
}

/** The account pool as a provider's credential source: which account serves each attempt, and what each outcome means. */
export class OAuthCredentialSource implements CredentialSource {
  constructor(
    private readonly oauth: OAuthSubsystem,
    /** The providers.yaml name, for the pool's events. */
    private readonly provider?: string,
  ) {}

  begin(request: ProxyRequestInfo): CredentialSession {
    return new OAuthCredentialSession(this.oauth, request.sessionId, this.provider, request.reqId);
  }
}

class OAuthCredentialSession implements CredentialSession {
  private readonly tried = new Set<Account>();
  private readonly retriedAfter401 = new Set<Account>();
  private retrySame: Account | null = null;
  /** Whether scheduler decisions are logged (debug level), asked once per request. */
  private readonly debug: boolean;

  constructor(
    private readonly oauth: OAuthSubsystem,
    private readonly sessionId: string | undefined,
    private readonly provider: string | undefined,
    private readonly reqId: string | undefined,
  ) {
    this.debug = oauth.log.isLevelEnabled('debug');
  }

  async next(): Promise<Credential | null> {
    const { pool, refresher } = this.oauth;
    const beta = this.oauth.settings.oauth_beta;
    if (this.retrySame) {
      const account = this.retrySame;
      this.retrySame = null;
      if (this.debug) this.logDecision(account, 'retry_after_refresh', 1, pool.clock.now());
      pool.noteAttempt(account);
      return accountCredential(account, beta);
    }
    for (;;) {
      const now = pool.clock.now();
      const candidates = pool.list().filter((a) => !this.tried.has(a) && canTakeRequests(a.availability(now)));
      const { selector } = this.oauth;
      const account = selector.select(candidates, { sessionId: this.sessionId, now })[0];
      if (this.debug) this.logDecision(account, account ? selector.lastReason : 'none_left', candidates.length, now);
      if (!account) return null;
      this.tried.add(account);
      if (!(await refresher.prepare(account))) {
        if (this.debug) {
          const { state } = account.availability(pool.clock.now());
          this.oauth.log.debug({ req_id: this.reqId, provider: this.provider, account: account.email, state }, 'picked account not ready; picking again');
        }
        continue;
      }
      pool.noteAttempt(account);
      return accountCredential(account, beta);
    }
  }

  private logDecision(account: Account | undefined, reason: DecisionReason, candidates: number, now: number): void {
    const line = { req_id: this.reqId, provider: this.provider, strategy: this.oauth.settings.strategy, account: account?.email, reason, candidates };
    logDecision(this.oauth.log, line, this.oauth.pool.list(), this.tried, now);
  }

  async judge(credential: Credential, outcome: AttemptOutcome): Promise<AttemptVerdict> {
    const { account, token } = credential as AccountCredential;
    // The upstream itself is unreachable: another account of the same upstream will not help.
    if (outcome.kind === 'network') return 'next_provider';
    const { pool } = this.oauth;
    const { status, headers } = outcome;
    const reported = recordUnifiedHeaders(account.limits, headers);
    if (reported) pool.noteUtilization(account, reported);

    const error = parseUpstreamError(status === 401 || status === 403 ? outcome.body : undefined);
    if (isCredentialRefused(status, error)) return this.onRefused(account, token, `upstream ${status}: ${error.message || 'authentication failed'}`);
    if (isOrganizationBanned(status, error)) {
      pool.setVerdict(account, 'banned', error.message, this.provider);
      return 'retry';
    }
    // Another account may have the access this one lacks; the client gets the 403 if none has.
    if (status === 403) return 'retry';
    if (status === 429) {
      this.on429(account, headers);
      return 'retry';
    }
    if (status >= 500) return 'retry';
    if (status < 400) {
      account.limits.bare429Streak = 0;
      account.limits.refusedAfterRefreshStreak = 0;
      pool.recovered(account, this.provider);
    }
    pool.noteServed(account);
    return 'deliver';
  }

  private async onRefused(account: Account, token: string, reason: string): Promise<AttemptVerdict> {
    const { pool, refresher } = this.oauth;
    if (!this.retriedAfter401.has(account)) {
      this.retriedAfter401.add(account);
      const next = await refresher.afterRejection(account, token);
      if (next === 'retry') this.retrySame = account;
      // No refresh token, or no verdict yet from the token endpoint: the token is dead for good.
      else if (next === 'needs_login') pool.setVerdict(account, 'needs_login', reason, this.provider);
      return 'retry';
    }
    // Refused again right after a refresh that worked (a revoke racing the retry): the refresh
    // token is fine, so this is no lost login. The account pauses, then gets a new token.
    const limits = account.limits;
    limits.refusedAfterRefreshStreak++;
    account.refusedToken = token;
    const now = pool.clock.now();
    pool.coolDown(account, now + refusedAfterRefreshCooldownMs(limits.refusedAfterRefreshStreak), `${reason} (right after a refresh)`);
    return 'retry';
  }

  private on429(account: Account, headers: IncomingHttpHeaders): void {
    const { pool } = this.oauth;
    const now = pool.clock.now();
    const limits = account.limits;
    const until = subscriptionLimitUntil(headers, now);
    if (until !== null) {
      pool.rateLimited(account, until, this.provider);
      return;
    }
    // A request-scoped 429: a short, growing pause, but never for the last account that can serve.
    limits.bare429Streak++;
    const othersUsable = pool.list().some((a) => a !== account && a.availability(now).state === 'usable');
    if (othersUsable) pool.coolDown(account, now + bare429CooldownMs(limits.bare429Streak), 'request-scoped 429');
  }

  finalWord(): SyntheticResponse | undefined {
    const { pool, logins } = this.oauth;
    const now = pool.clock.now();
    const answer = poolAnswer(pool.list(), now);
    if (!answer) return undefined;
    const reason = answer.kind === 'auth_required' ? answer.reason : 'every Claude account is rate limited';
    // The one place that acts on it (login flow: a login and the banner) listens to this event.
    pool.exhausted(reason, { until: answer.kind === 'rate_limited' ? answer.freeAt : undefined, provider: this.provider });
    return answer.kind === 'rate_limited' ? rateLimitedResponse(answer.freeAt, now, this.oauth.serviceUrl()) : logins.authRequired(answer.reason);
  }
}
