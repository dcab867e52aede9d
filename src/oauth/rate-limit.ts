import type { IncomingHttpHeaders } from 'node:http';

/** Where an account stands against its subscription limits, from the unified rate-limit headers. */
export interface RateLimitState {
  status: string | null;
  utilization5h: number | null;
  utilization7d: number | null;
  /** Epoch ms when the 5-hour and 7-day windows reset. */
  reset5h: number | null;
  reset7d: number | null;
  /** Epoch ms when the binding window resets. */
  resetsAt: number | null;
  claim: string | null;
  /** Epoch ms until which the account is out of rotation (subscription limit reached). */
  limitedUntil: number;
  /** Epoch ms until which the account is skipped after a request-scoped 429. */
  cooldownUntil: number;
  /** Consecutive request-scoped 429s, for the doubling cooldown. */
  bare429Streak: number;
}

export function emptyRateLimitState(): RateLimitState {
  return {
    status: null,
    utilization5h: null,
    utilization7d: null,
    reset5h: null,
    reset7d: null,
    resetsAt: null,
    claim: null,
    limitedUntil: 0,
    cooldownUntil: 0,
    bare429Streak: 0,
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

/** Records the unified headers of a response (cheap check first: most carry none or all). */
export function recordUnifiedHeaders(state: RateLimitState, headers: IncomingHttpHeaders): void {
  const status = header(headers, 'status');
  const reset = header(headers, 'reset');
  if (status === undefined && reset === undefined && header(headers, '5h-utilization') === undefined) return;
  if (status !== undefined) state.status = status;
  const resetMs = epochSecondsToMs(reset);
  if (resetMs !== null) state.resetsAt = resetMs;
  const claim = header(headers, 'representative-claim');
  if (claim !== undefined) state.claim = claim;
  const u5 = number(header(headers, '5h-utilization'));
  if (u5 !== null) state.utilization5h = u5;
  const u7 = number(header(headers, '7d-utilization'));
  if (u7 !== null) state.utilization7d = u7;
  const r5 = epochSecondsToMs(header(headers, '5h-reset'));
  if (r5 !== null) state.reset5h = r5;
  const r7 = epochSecondsToMs(header(headers, '7d-reset'));
  if (r7 !== null) state.reset7d = r7;
}

/**
 * The 5-hour utilization that still holds now: once that window has reset, what was recorded
 * before no longer says anything, and counting it would keep a recovered account from new sessions.
 */
export function currentUtilization5h(state: RateLimitState, now: number): number {
  const reset = state.reset5h ?? (state.claim === 'five_hour' ? state.resetsAt : null);
  if (state.utilization5h === null || (reset !== null && reset <= now)) return 0;
  return state.utilization5h;
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
