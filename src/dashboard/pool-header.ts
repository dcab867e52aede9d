import { accountCounts, type HealthStatus } from '../health/health-report.js';
import type { Account } from '../oauth/account.js';
import { liveSnapshot } from '../store/account-record.js';

type ResetKind = 'limit' | '5h' | '7d';

export interface PoolHeader {
  /** /health's verdict. */
  status: HealthStatus;
  usable: number;
  total: number;
  /** The next moment an account's limit ends or a utilization window starts over, and whose. */
  next_reset: { at: string; account: string; what: ResetKind } | null;
}

/** The dashboard's header: /health's status, the account counts, and the next reset in the pool. */
export function poolHeader(status: HealthStatus, accounts: readonly Account[], now: number): PoolHeader {
  let next: { at: number; account: string; what: ResetKind } | undefined;
  const consider = (at: number | null | undefined, account: string, what: ResetKind) => {
    if (at && at > now && (!next || at < next.at)) next = { at, account, what };
  };
  for (const account of accounts) {
    const availability = account.availability(now);
    if (availability.state !== 'usable' && availability.state !== 'refreshing') consider(availability.until, account.email, 'limit');
    consider(liveSnapshot(account.record.utilization_5h, now)?.resets_at, account.email, '5h');
    consider(liveSnapshot(account.record.utilization_7d, now)?.resets_at, account.email, '7d');
  }
  const found = next as { at: number; account: string; what: ResetKind } | undefined;
  return {
    status,
    ...accountCounts(accounts, now),
    next_reset: found ? { ...found, at: new Date(found.at).toISOString() } : null,
  };
}
