import type { Account } from '../account.js';
import { inRotation, type SelectionReason, type Selector } from './selector.js';

/** `round_robin`: every attempt takes the next account in pool order, whatever the conversation. */
export class RoundRobinSelector implements Selector {
  private lastSeq = -1;
  readonly lastReason: SelectionReason = 'rotation';

  select(candidates: readonly Account[]): Account[] {
    const ordered = inRotation(candidates, this.lastSeq);
    if (ordered.length > 0) this.lastSeq = ordered[0].seq;
    return ordered;
  }
}
