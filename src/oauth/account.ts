import { accountKey, type AccountRecord } from '../store/account-record.js';
import { emptyRateLimitState, type RateLimitState } from './rate-limit.js';

/** Where an account stands right now, as the scheduler, the final answer, /oauth/status and the CLI see it. */
export type AvailabilityState = 'usable' | 'refreshing' | 'cooling_down' | 'rate_limited' | 'needs_login' | 'banned' | 'disabled';

export type Availability =
  | { state: 'usable' }
  | { state: Exclude<AvailabilityState, 'usable'>; reason: string; /** Epoch ms when this state ends by itself. */ until?: number };

/** One object for the common answer: availability is asked for every account on every request. */
const USABLE: Availability = Object.freeze({ state: 'usable' });

/** After a failed refresh, an expired token is not refreshed again on demand before this. */
export const ON_DEMAND_RETRY_MS = 30_000;

/**
 * One Claude account of the running pool: its persisted record and the state that lives only in
 * memory. Only the pool changes the record (new tokens and verdicts replace it; usage and
 * utilization are counted into it) and no runtime judgement is written into it; a re-login or a
 * delete retires this object, so work still holding it can tell.
 */
export class Account {
  /** The one refresh in flight for this account, shared by everyone who needs it. */
  refreshing: Promise<void> | null = null;
  limits: RateLimitState = emptyRateLimitState();
  /** After a transient refresh failure: no on-demand refresh before this (epoch ms) while the token still works. */
  refreshBackoffUntil = 0;
  /** Epoch ms of the last transient refresh failure (0: none since the last success). */
  lastRefreshFailureAt = 0;
  /** The access token the upstream refused: it counts as expired until a refresh replaces it. */
  refusedToken: string | null = null;
  /** What went wrong last, for /oauth/status; cleared by success. */
  lastError: string | null = null;
  /** Upstream attempts made with this account (a 401 and its retry are two); usage_count counts requests served. */
  attempts = 0;
  /** Set by the pool once the account is deleted or replaced by a new login. */
  retired = false;
  /** Something went wrong that a later success should announce as `recovered`. */
  troubled = false;

  /** accountKey() of the email, which a record replacement never changes. */
  readonly key: string;

  constructor(
    public record: AccountRecord,
    /** Position in the pool (login order), for rotations that must not depend on object identity. */
    readonly seq: number,
  ) {
    this.key = accountKey(record.email);
  }

  get email(): string {
    return this.record.email;
  }

  /** Epoch ms until which the current access token can be used (a refused token is already over). */
  tokenUsableUntil(): number {
    return this.refusedToken === this.record.access_token ? 0 : this.record.expires_at;
  }

  /** The one rule for whether this account can take a request now, and if not, why and until when. */
  availability(now: number): Availability {
    if (this.retired) return { state: 'disabled', reason: 'removed from the pool' };
    const { verdict, refresh_token } = this.record;
    if (verdict) return { state: verdict.state, reason: verdict.reason };
    const tokenUntil = this.tokenUsableUntil();
    if (this.refreshing) return { state: 'refreshing', reason: 'a token refresh is under way' };
    if (!refresh_token && tokenUntil <= now) return { state: 'needs_login', reason: 'the token expired and cannot be refreshed' };
    const { limitedUntil, cooldownUntil } = this.limits;
    if (limitedUntil > now && limitedUntil >= cooldownUntil) {
      return { state: 'rate_limited', reason: 'subscription rate limit reached', until: limitedUntil };
    }
    if (cooldownUntil > now) return { state: 'cooling_down', reason: this.limits.cooldownReason, until: cooldownUntil };
    // An expired token is refreshed on demand, but not by every request while the token endpoint fails.
    if (tokenUntil <= now && now - this.lastRefreshFailureAt < ON_DEMAND_RETRY_MS) {
      return {
        state: 'cooling_down',
        reason: `the token expired and the last refresh failed: ${this.lastError ?? 'token endpoint error'}`,
        until: this.lastRefreshFailureAt + ON_DEMAND_RETRY_MS,
      };
    }
    return USABLE;
  }
}

/** A candidate for a request: usable now, or as soon as the refresh in flight lands (the request waits for it). */
export function canTakeRequests(availability: Availability): boolean {
  return availability.state === 'usable' || availability.state === 'refreshing';
}

/** The availability as one word for /oauth/status, the CLI and the console ('active' when usable). */
export function statusName(availability: Availability): string {
  return availability.state === 'usable' ? 'active' : availability.state;
}
