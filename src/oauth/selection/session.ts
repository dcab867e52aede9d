import type { Account } from '../account.js';
import { currentUtilization5h } from '../rate-limit.js';
import { inRotation, type SelectionReason, type SelectionRequest, type Selector } from './selector.js';

export const PIN_IDLE_MS = 60 * 60 * 1000;
export const MAX_PINS = 10_000;

interface Pin {
  /** accountKey of the account, so a re-login of the same email keeps the conversation. */
  key: string;
  lastSeen: number;
}

/**
 * `session` (the default): a conversation stays on the account that first served it (Anthropic's
 * prompt cache is per organization); new conversations go to the account with the lowest 5-hour
 * utilization, in rotation order among equals. Requests without a session id rotate.
 */
export class SessionSelector implements Selector {
  private lastSeq = -1;
  /** Insertion order is recency order: the first entries are the longest idle. */
  private readonly pins = new Map<string, Pin>();
  /** Told of each new pin, to share it with other instances (a shared store). */
  onPin: ((sessionId: string, key: string) => void) | null = null;
  lastReason: SelectionReason = 'no_session';

  constructor(private readonly maxPins = MAX_PINS) {}

  /** A pin another instance made: this conversation goes to the same account here too. */
  adoptPin(sessionId: string, key: string, now: number): void {
    this.pin(sessionId, key, now);
  }

  get pinCount(): number {
    return this.pins.size;
  }

  select(candidates: readonly Account[], { sessionId, now }: SelectionRequest): Account[] {
    const pin = sessionId === undefined ? undefined : this.pins.get(sessionId);
    const pinned = pin && now - pin.lastSeen < PIN_IDLE_MS ? candidates.find((a) => a.key === pin.key) : undefined;
    if (pinned) {
      this.pins.delete(sessionId!);
      pin!.lastSeen = now;
      this.pins.set(sessionId!, pin!);
      this.lastReason = 'pin_hit';
      return [pinned, ...inRotation(candidates, this.lastSeq).filter((a) => a !== pinned)];
    }
    const rotation = inRotation(candidates, this.lastSeq);
    if (sessionId === undefined) {
      this.lastReason = 'no_session';
      if (rotation.length > 0) this.lastSeq = rotation[0].seq;
      return rotation;
    }
    this.lastReason = pin ? 'pin_moved' : 'pin_new';
    // A stable sort keeps the rotation order among equal utilizations.
    const ordered = rotation
      .map((account) => ({ account, used: currentUtilization5h(account.record, now) }))
      .sort((a, b) => a.used - b.used)
      .map((entry) => entry.account);
    if (ordered.length > 0) {
      this.lastSeq = ordered[0].seq;
      this.pin(sessionId, ordered[0].key, now);
      this.onPin?.(sessionId, ordered[0].key);
    }
    return ordered;
  }

  private pin(sessionId: string, key: string, now: number): void {
    this.pins.delete(sessionId);
    for (const [session, pin] of this.pins) {
      if (this.pins.size < this.maxPins && now - pin.lastSeen < PIN_IDLE_MS) break;
      this.pins.delete(session);
    }
    this.pins.set(sessionId, { key, lastSeen: now });
  }
}
