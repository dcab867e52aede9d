import type { Logger } from '../logging/logger.js';
import { canTakeRequests, type Account, type AvailabilityState } from './account.js';
import type { SelectionReason } from './selection/selector.js';

/** Why an attempt got its account: the policy's reason, the retry after a refreshed 401, or nothing left to pick. */
export type DecisionReason = SelectionReason | 'retry_after_refresh' | 'none_left';

/** The debug line of one scheduler decision: only names, counts and states, never a token. */
export interface DecisionLogLine {
  req_id: string | undefined;
  provider: string | undefined;
  strategy: string;
  /** The account picked; absent when none was left. */
  account?: string;
  reason: DecisionReason;
  /** Accounts that could take the request, the picked one included. */
  candidates: number;
  /** The others, by email: `tried` (earlier in this request) or the availability state that kept them out. */
  skipped: Record<string, 'tried' | AvailabilityState>;
}

/** Writes the decision line; callers check `log.isLevelEnabled('debug')` first, as this walks the pool. */
export function logDecision(
  log: Logger,
  line: Omit<DecisionLogLine, 'skipped'>,
  pool: readonly Account[],
  tried: ReadonlySet<Account>,
  now: number,
): void {
  const skipped: DecisionLogLine['skipped'] = {};
  for (const account of pool) {
    if (account.email === line.account) continue;
    if (tried.has(account)) skipped[account.email] = 'tried';
    else {
      const availability = account.availability(now);
      if (!canTakeRequests(availability)) skipped[account.email] = availability.state;
    }
  }
  const entry: DecisionLogLine = { ...line, skipped };
  log.debug(entry, 'scheduler decision');
}
