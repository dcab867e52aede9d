import type { IncomingHttpHeaders } from 'node:http';
import { liveSnapshot, type AccountRecord, type UtilizationSnapshot } from '../store/account-record.js';

/** Where an account stands against its limits in this process (the utilization snapshots are in the record). */
export interface RateLimitState {
  status: string | null;
  /** Epoch ms when the binding window resets. */
  resetsAt: number | null;
  claim: string | null;
  /** Epoch ms until which the account is out of rotation (subscription limit reached). */
  limitedUntil: number;
  /** Epoch ms until which the account is skipped (a request-scoped 429, a token refused right after its refresh). */
  cooldownUntil: number;
  cooldownReason: string;
  /** Consecutive request-scoped 429s, for the doubling cooldown. */
  bare429Streak: number;
  /** Consecutive refusals of freshly refreshed tokens, for the doubling cooldown. */
  refusedAfterRefreshStreak: number;
}

export function emptyRateLimitState(): RateLimitState {
  return {
    status: null,
    resetsAt: null,
    claim: null,
    limitedUntil: 0,
    cooldownUntil: 0,
    cooldownReason: '',
    bare429Streak: 0,
    refusedAfterRefreshStreak: 0,
  };
}

const PREFIX = 'anthropic-ratelimit-unified-';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[PREFIX + name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
}

function number(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function epochSecondsToMs(value: string | undefined): number | null {
  const n = number(value);
  return n === null ? null : n * 1000;
}

/** The utilization snapshots a response reports (null where it reports none). */
export interface ReportedUtilization {
  utilization_5h: UtilizationSnapshot | null;
  utilization_7d: UtilizationSnapshot | null;
}

/**
 * Records the unified headers of a response in the runtime state (cheap check first: most carry
 * none or all) and returns the utilization it reports, for the pool to store in the record.
 */
export function recordUnifiedHeaders(state: RateLimitState, headers: IncomingHttpHeaders): ReportedUtilization | null {
  const status = header(headers, 'status');
  const reset = header(headers, 'reset');
  const u5 = header(headers, '5h-utilization');
  if (status === undefined && reset === undefined && u5 === undefined) return null;
  if (status !== undefined) state.status = status;
  const resetMs = epochSecondsToMs(reset);
  if (resetMs !== null) state.resetsAt = resetMs;
  const claim = header(headers, 'representative-claim');
  if (claim !== undefined) state.claim = claim;
  const snapshot = (value: number | null, resets: number | null): UtilizationSnapshot | null =>
    value === null ? null : { utilization: value, resets_at: resets };
  const r5 = epochSecondsToMs(header(headers, '5h-reset')) ?? (state.claim === 'five_hour' ? state.resetsAt : null);
  return {
    utilization_5h: snapshot(number(u5), r5),
    utilization_7d: snapshot(number(header(headers, '7d-utilization')), epochSecondsToMs(header(headers, '7d-reset'))),
  };
}

/**
 * The 5-hour utilization that still holds now: once that window has reset, what was recorded
 * before no longer says anything, and counting it would keep a recovered account from new sessions.
 */
export function currentUtilization5h(record: AccountRecord, now: number): number {
  return liveSnapshot(record.utilization_5h, now)?.utilization ?? 0;
}

/**
 * When a 429 means the subscription limit was reached (unified status rejected, or a unified
 * reset): the epoch ms until which the account is out. null for a request-scoped 429.
 */
export function subscriptionLimitUntil(headers: IncomingHttpHeaders, now: number): number | null {
  const status = header(headers, 'status');
  const reset = epochSecondsToMs(header(headers, 'reset'));
  if (status !== 'rejected' && reset === null) return null;
  if (reset !== null && reset > now) return reset;
  // A reset already past (clock skew) without a rejection is no evidence of a subscription limit.
  if (status !== 'rejected') return null;
  // Rejected without a usable reset: fall back to retry-after, else the five-hour window.
  const retryAfter = number(typeof headers['retry-after'] === 'string' ? headers['retry-after'] : undefined);
  if (retryAfter !== null && retryAfter > 0) return now + retryAfter * 1000;
  return now + 5 * 60 * 60 * 1000;
}

export const BARE_429_BASE_MS = 60_000;
export const BARE_429_MAX_MS = 5 * 60_000;

export function bare429CooldownMs(streak: number): number {
  return Math.min(BARE_429_BASE_MS * 2 ** Math.max(0, streak - 1), BARE_429_MAX_MS);
}

/** A token refused right after its refresh (a revoke racing the retry): a short pause, then it is tried again. */
export const REFUSED_AFTER_REFRESH_BASE_MS = 30_000;
export const REFUSED_AFTER_REFRESH_MAX_MS = 10 * 60_000;

export function refusedAfterRefreshCooldownMs(streak: number): number {
  return Math.min(REFUSED_AFTER_REFRESH_BASE_MS * 2 ** Math.max(0, streak - 1), REFUSED_AFTER_REFRESH_MAX_MS);
}
