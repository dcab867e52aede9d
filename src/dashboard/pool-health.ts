import { canTakeRequests, type Account } from '../oauth/account.js';
import { liveSnapshot } from '../store/account-record.js';

export interface PoolHealth {
  /** ok: every account can serve; degraded: some can; down: none can (or none is logged in). */
  status: 'ok' | 'degraded' | 'down';
  usable: number;
  total: number;
  /** The next moment something frees up or a utilization window starts over, and whose. */
  next_reset: { at: string; account: string; what: 'limit' | '5h' | '7d' } | null;
}

/** The pool's health for the dashboard's header, from the accounts' availability alone. */
export function poolHealth(accounts: readonly Account[], now: number): PoolHealth {
  let usable = 0;
  let next: { at: number; account: string; what: 'limit' | '5h' | '7d' } | null = null;
  const consider = (at: number | null | undefined, account: string, what: 'limit' | '5h' | '7d') => {
    if (at && at > now && (!next || at < next.at)) next = { at, account, what };
  };
  for (const account of accounts) {
    const availability = account.availability(now);
    if (canTakeRequests(availability)) usable++;
    else if (availability.state !== 'usable') consider(availability.until, account.email, 'limit');
    consider(liveSnapshot(account.record.utilization_5h, now)?.resets_at, account.email, '5h');
    consider(liveSnapshot(account.record.utilization_7d, now)?.resets_at, account.email, '7d');
  }
  const total = accounts.length;
  const status = usable === 0 ? 'down' : usable < total ? 'degraded' : 'ok';
  const found = next as { at: number; account: string; what: 'limit' | '5h' | '7d' } | null;
  return { status, usable, total, next_reset: found ? { ...found, at: new Date(found.at).toISOString() } : null };
}
