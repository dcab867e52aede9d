import type { Account } from '../account.js';
import { currentUtilization5h } from '../rate-limit.js';
import type { SelectionReason, SelectionRequest, Selector } from './selector.js';

/**
 * `fill`: all traffic stays on the first account in pool order until it is limited (then it is
 * no candidate) or its 5-hour utilization passes `threshold`; then the next one. Accounts past
 * the threshold come last, the least used first, so the pool still serves when all are past it.
 */
export class FillSelector implements Selector {
  lastReason: SelectionReason = 'below_threshold';

  constructor(private readonly threshold: number) {}

  select(candidates: readonly Account[], { now }: SelectionRequest): Account[] {
    const below: Account[] = [];
    const past: Array<{ account: Account; used: number }> = [];
    for (const account of candidates) {
      const used = currentUtilization5h(account.record, now);
      if (used > this.threshold) past.push({ account, used });
      else below.push(account);
    }
    past.sort((a, b) => a.used - b.used);
    this.lastReason = below.length > 0 ? 'below_threshold' : 'past_threshold';
    return [...below, ...past.map((p) => p.account)];
  }
}
