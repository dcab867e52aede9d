import { errorResponse, type SyntheticResponse } from '../anthropic/errors.js';
import type { Account } from './account.js';

/**
 * What the pool tells a client when none of its accounts could serve, decided from the
 * accounts' availability alone: nothing (the last upstream error stands) while one is usable;
 * a 429 with retry-after while they are only limited or cooling down; else a login is needed.
 */
export type PoolAnswer =
  | { kind: 'rate_limited'; freeAt: number; response: SyntheticResponse }
  | { kind: 'auth_required'; reason: string };

export function poolAnswer(accounts: readonly Account[], now: number): PoolAnswer | undefined {
  let freeAt = Infinity;
  let loginNeeded = 0;
  for (const account of accounts) {
    const availability = account.availability(now);
    if (availability.state === 'usable') return undefined;
    if (availability.state === 'needs_login' || availability.state === 'banned' || availability.state === 'disabled') loginNeeded++;
    else freeAt = Math.min(freeAt, availability.until ?? now);
  }
  if (freeAt !== Infinity) return { kind: 'rate_limited', freeAt, response: rateLimitedResponse(freeAt, now) };
  const reason =
    accounts.length === 0
      ? 'no Claude account is logged in'
      : `every account (${loginNeeded}) needs a new login; \`claude-code-balancer accounts\` shows why`;
  return { kind: 'auth_required', reason };
}

function rateLimitedResponse(freeAt: number, now: number): SyntheticResponse {
  const seconds = Math.max(1, Math.ceil((freeAt - now) / 1000));
  // Account emails stay out of client-facing messages: /v1 may be open to more people than the admin API.
  return errorResponse(
    'rate_limit_error',
    `Every Claude account is rate limited. The first one frees up at ${new Date(freeAt).toISOString()} (in ${formatDuration(seconds)}).`,
    429,
    { 'retry-after': String(seconds) },
  );
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
