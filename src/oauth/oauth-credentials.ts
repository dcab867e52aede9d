import type { IncomingHttpHeaders } from 'node:http';
import { mergeBetas } from '../proxy/headers.js';
import { errorResponse, type SyntheticResponse } from '../proxy/anthropic-errors.js';
import type {
  AttemptOutcome,
  AttemptVerdict,
  Credential,
  CredentialSession,
  CredentialSource,
  OutgoingHeaders,
  ProxyRequestInfo,
} from '../providers/credentials.js';
import type { PoolAccount } from './account.js';
import { isUsable } from './account-scheduler.js';
import type { OAuthManager } from './oauth-manager.js';
import { bare429CooldownMs, recordUnifiedHeaders, subscriptionLimitUntil } from './rate-limit.js';

interface AccountCredential extends Credential {
  readonly account: PoolAccount;
  readonly token: string;
}

function accountCredential(account: PoolAccount, beta: string): AccountCredential {
  const token = account.record.access_token;
  return {
    account,
    token,
    label: account.record.email,
    apply(headers: OutgoingHeaders) {
      headers.authorization = `Bearer ${token}`;
      mergeBetas(headers, beta);
    },
  };
}

function upstreamError(body: string | undefined): { type: string; message: string } {
  if (!body) return { type: '', message: '' };
  try {
    const { error } = JSON.parse(body) as { error?: { type?: unknown; message?: unknown } };
    return {
      type: typeof error?.type === 'string' ? error.type : '',
      message: typeof error?.message === 'string' ? error.message : '',
    };
  } catch {
    return { type: '', message: '' };
  }
}

const ORG_NOT_ALLOWED = /not allowed for this organization/i;

/** The account pool as a provider's credential source: which account serves each attempt, and what each outcome means. */
export class OAuthCredentialSource implements CredentialSource {
  constructor(private readonly manager: OAuthManager) {}

  begin(request: ProxyRequestInfo): CredentialSession {
    return new OAuthCredentialSession(this.manager, request.sessionId);
  }
}

class OAuthCredentialSession implements CredentialSession {
  private readonly tried = new Set<PoolAccount>();
  private readonly retriedAfter401 = new Set<PoolAccount>();
  private retrySame: PoolAccount | null = null;

  constructor(
    private readonly manager: OAuthManager,
    private readonly sessionId: string | undefined,
  ) {}

  async next(): Promise<Credential | null> {
    const beta = this.manager.oauthSettings.oauth_beta;
    if (this.retrySame) {
      const account = this.retrySame;
      this.retrySame = null;
      this.manager.markUsed(account);
      return accountCredential(account, beta);
    }
    for (;;) {
      const now = this.manager.clock.now();
      const account = this.manager.scheduler.pick(this.manager.list(), this.sessionId, this.tried, now);
      if (!account) return null;
      this.tried.add(account);
      if (!(await this.manager.ensureFresh(account))) continue;
      this.manager.markUsed(account);
      return accountCredential(account, beta);
    }
  }

  async judge(credential: Credential, outcome: AttemptOutcome): Promise<AttemptVerdict> {
    const { account, token } = credential as AccountCredential;
    // The upstream itself is unreachable: another account of the same upstream will not help.
    if (outcome.kind === 'network') return 'next_provider';
    const { status, headers } = outcome;
    const limits = account.limits;
    recordUnifiedHeaders(limits, headers);

    const error = upstreamError(status === 401 || status === 403 ? outcome.body : undefined);
    const orgRefused = status === 403 && ORG_NOT_ALLOWED.test(error.message);
    // A revoked token sometimes comes as a 403 authentication_error; other 403s are about the
    // request or the organization, and a refresh cannot fix them.
    if (status === 401 || (status === 403 && error.type === 'authentication_error' && !orgRefused)) {
      if (!this.retriedAfter401.has(account)) {
        this.retriedAfter401.add(account);
        const next = await this.manager.refreshAfterRejection(account, token);
        if (next === 'retry') {
          this.retrySame = account;
          return 'retry';
        }
        if (next === 'wait') return 'retry';
      }
      if (account.record.status !== 'reauth_required') {
        this.manager.markReauthRequired(account, `upstream ${status}: ${error.message || 'authentication failed'}`);
      }
      return 'retry';
    }
    if (status === 403) {
      if (orgRefused) this.manager.markError(account, error.message);
      // Another account may have the access this one lacks; the client gets the 403 if none has.
      return 'retry';
    }
    if (status === 429) {
      this.on429(account, headers);
      return 'retry';
    }
    if (status >= 500) return 'retry';
    if (status < 400) limits.bare429Streak = 0;
    return 'deliver';
  }

  private on429(account: PoolAccount, headers: IncomingHttpHeaders): void {
    const now = this.manager.clock.now();
    const limits = account.limits;
    const until = subscriptionLimitUntil(headers, now);
    if (until !== null) {
      limits.limitedUntil = until;
      return;
    }
    // A request-scoped 429: a short, growing pause, but never for the last account that can serve.
    limits.bare429Streak++;
    const othersUsable = this.manager.list().some((a) => a !== account && isUsable(a, now));
    if (othersUsable) limits.cooldownUntil = now + bare429CooldownMs(limits.bare429Streak);
  }

  finalWord(): SyntheticResponse | undefined {
    const accounts = this.manager.list();
    const now = this.manager.clock.now();
    if (accounts.some((a) => isUsable(a, now))) return undefined;
    const limited = accounts.filter(
      (a) => a.record.status === 'active' || a.record.status === 'refreshing',
    );
    if (limited.length > 0) {
      const freeAt = Math.min(...limited.map((a) => Math.max(a.limits.limitedUntil, a.limits.cooldownUntil)));
      const seconds = Math.max(1, Math.ceil((freeAt - now) / 1000));
      // Account emails stay out of client-facing messages: /v1 may be open to more people than the admin API.
      return errorResponse(
        'rate_limit_error',
        `Every Claude account is rate limited. The first one frees up at ${new Date(freeAt).toISOString()} (in ${formatDuration(seconds)}).`,
        429,
        { 'retry-after': String(seconds) },
      );
    }
    const reason =
      accounts.length === 0
        ? 'no Claude account is logged in'
        : `every account (${accounts.length}) needs a new login; \`claude-code-balancer accounts\` shows why`;
    return this.manager.authRequired(reason);
  }
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
