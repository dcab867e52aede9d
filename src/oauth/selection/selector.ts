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
}

/** The candidates in rotation order: those after `lastSeq` (the last chosen) first, then from the start. */
export function inRotation(candidates: readonly Account[], lastSeq: number): Account[] {
  let split = 0;
  while (split < candidates.length && candidates[split].seq <= lastSeq) split++;
  return split === 0 ? [...candidates] : [...candidates.slice(split), ...candidates.slice(0, split)];
}
