import type { Account } from '../account.js';

/** What a selection policy may know about the request. */
export interface SelectionRequest {
  /** Conversation identity (src/anthropic/session-identity.ts), when the client sent one. */
  readonly sessionId: string | undefined;
  /** Epoch ms. */
  readonly now: number;
}

/**
 * A selection policy (Caddy's reverseproxy Selector as the model): the candidates, the accounts
 * that can take the request now in pool order, ordered best first. The first one gets the
 * attempt; a policy may remember it (a session pin, a rotation cursor). Each attempt asks again
 * with the accounts not yet tried.
 */
export interface Selector {
  select(candidates: readonly Account[], request: SelectionRequest): Account[];
  /** Why the last select() put its first account first (one word, for the debug log); set as a side effect, never read by selection. */
  readonly lastReason: SelectionReason;
}

/**
 * `rotation`: next in pool order. `pin_hit`: the conversation's account. `pin_new`: a new
 * conversation, pinned to the least used account. `pin_moved`: the conversation's account cannot
 * serve (or its pin went idle), so it moves to the least used. `no_session`: no conversation id,
 * rotation. `below_threshold` / `past_threshold`: fill's first account under its threshold, or
 * the least used of those past it.
 */
export type SelectionReason = 'rotation' | 'pin_hit' | 'pin_new' | 'pin_moved' | 'no_session' | 'below_threshold' | 'past_threshold';

/** The candidates in rotation order: those after `lastSeq` (the last chosen) first, then from the start. */
export function inRotation(candidates: readonly Account[], lastSeq: number): Account[] {
  let split = 0;
  while (split < candidates.length && candidates[split].seq <= lastSeq) split++;
  return split === 0 ? [...candidates] : [...candidates.slice(split), ...candidates.slice(0, split)];
}
