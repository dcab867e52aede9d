import { emptyRateLimitState, type RateLimitState } from './rate-limit.js';

/** One Claude account of the pool, as held in memory and as persisted by a TokenStore. */
export type AccountStatus = 'active' | 'refreshing' | 'reauth_required' | 'error';

export interface AccountRecord {
  /** Key of the account: the email as the user gave it or as Anthropic returned it. Compared case-insensitively. */
  email: string;
  access_token: string;
  /** Single-use and rotating. null for tokens that cannot be refreshed. */
  refresh_token: string | null;
  /** Epoch milliseconds. */
  expires_at: number;
  scopes: string[];
  account_uuid: string | null;
  organization_uuid: string | null;
  organization_name: string | null;
  /** Epoch milliseconds. */
  created_at: number;
  usage_count: number;
  /** Epoch milliseconds, or null when never used. */
  last_used: number | null;
  /** Epoch milliseconds of the last successful refresh. */
  last_refresh_at: number | null;
  status: AccountStatus;
  last_error: string | null;
}

export function accountKey(email: string): string {
  return email.trim().toLowerCase();
}

/** An account as the running pool holds it: the persisted record plus state that lives only in memory. */
export interface PoolAccount {
  record: AccountRecord;
  /** The one refresh in flight for this account, shared by everyone who needs it. */
  refreshing: Promise<void> | null;
  /** When the scheduled refresh fires. */
  timer: unknown;
  limits: RateLimitState;
  /** After a transient refresh failure: no on-demand refresh before this (epoch ms) while the token still works. */
  refreshBackoffUntil: number;
  /** Epoch ms of the last transient refresh failure (0: none since the last success). */
  lastRefreshFailureAt: number;
  /** Set once the account is deleted, so in-flight work does not bring it back. */
  removed: boolean;
}

/** A record as the pool holds it, with nothing in flight and no limits known yet. */
export function newPoolAccount(record: AccountRecord): PoolAccount {
  return {
    record,
    refreshing: null,
    timer: null,
    limits: emptyRateLimitState(),
    refreshBackoffUntil: 0,
    lastRefreshFailureAt: 0,
    removed: false,
  };
}
