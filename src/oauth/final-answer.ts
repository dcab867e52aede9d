import type { Account } from './account.js';

/**
 * What the pool tells a client when none of its accounts could serve, decided from the
 * accounts' availability alone: nothing (the last upstream error stands) while one is usable;
 * a 429 with retry-after while they are only limited or cooling down; else a login is needed.
 * The words are in auth-required.ts.
 */
export type PoolAnswer = { kind: 'rate_limited'; freeAt: number } | { kind: 'auth_required'; reason: string };

export function poolAnswer(accounts: readonly Account[], now: number): PoolAnswer | undefined {
  let freeAt = Infinity;
  let loginNeeded = 0;
  for (const account of accounts) {
    const availability = account.availability(now);
    if (availability.state === 'usable') return undefined;
    if (availability.state === 'needs_login' || availability.state === 'banned' || availability.state === 'disabled') loginNeeded++;
    else freeAt = Math.min(freeAt, availability.until ?? now);
  }
  if (freeAt !== Infinity) return { kind: 'rate_limited', freeAt };
  const reason =
    accounts.length === 0
      ? 'no Claude account is logged in'
      : `every account (${loginNeeded}) needs a new login or is banned`;
  return { kind: 'auth_required', reason };
}
