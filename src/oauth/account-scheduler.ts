import type { PoolAccount } from './account.js';
import { currentUtilization5h } from './rate-limit.js';

export type SchedulingStrategy = 'session' | 'round_robin';

export const PIN_IDLE_MS = 60 * 60 * 1000;
export const MAX_PINS = 10_000;

interface Pin {
  account: PoolAccount;
  lastSeen: number;
}

/** Can the account take a request now? */
export function isUsable(account: PoolAccount, now: number): boolean {
  const { status } = account.record;
  return (
    !account.removed &&
    (status === 'active' || status === 'refreshing') &&
    account.limits.limitedUntil <= now &&
    account.limits.cooldownUntil <= now
  );
}

/**
 * Chooses the account for each attempt. With the 'session' strategy a conversation stays on the
 * account that first served it (Anthropic's prompt cache is per organization); new conversations
 * go to the account with the lowest 5-hour utilization, in round-robin order among equals.
 */
export class AccountScheduler {
  private cursor = 0;
  /** Insertion order is recency order: the first entries are the longest idle. */
  private readonly pins = new Map<string, Pin>();

  constructor(
    private strategy: SchedulingStrategy,
    private readonly maxPins = MAX_PINS,
  ) {}

  configure(strategy: SchedulingStrategy): void {
    this.strategy = strategy;
  }

  get pinCount(): number {
    return this.pins.size;
  }

  pick(
    accounts: readonly PoolAccount[],
    sessionId: string | undefined,
    exclude: ReadonlySet<PoolAccount>,
    now: number,
  ): PoolAccount | undefined {
    const eligible = (a: PoolAccount) => !exclude.has(a) && isUsable(a, now);
    if (this.strategy !== 'session' || sessionId === undefined) return this.nextInRotation(accounts, eligible, false, now);

    const pin = this.pins.get(sessionId);
    if (pin && now - pin.lastSeen < PIN_IDLE_MS && accounts.includes(pin.account) && eligible(pin.account)) {
      this.pins.delete(sessionId);
      pin.lastSeen = now;
      this.pins.set(sessionId, pin);
      return pin.account;
    }
    const chosen = this.nextInRotation(accounts, eligible, true, now);
    if (chosen) this.pinSession(sessionId, chosen, now);
    return chosen;
  }

  /** Forgets the pins of a deleted account. */
  forget(account: PoolAccount): void {
    for (const [session, pin] of this.pins) if (pin.account === account) this.pins.delete(session);
  }

  private pinSession(sessionId: string, account: PoolAccount, now: number): void {
    this.pins.delete(sessionId);
    for (const [session, pin] of this.pins) {
      if (this.pins.size < this.maxPins && now - pin.lastSeen < PIN_IDLE_MS) break;
      this.pins.delete(session);
    }
    this.pins.set(sessionId, { account, lastSeen: now });
  }

  /** The next eligible account after the cursor; with preferLowUsage, the least used among them. */
  private nextInRotation(
    accounts: readonly PoolAccount[],
    eligible: (a: PoolAccount) => boolean,
    preferLowUsage: boolean,
    now: number,
  ): PoolAccount | undefined {
    const n = accounts.length;
    let best: PoolAccount | undefined;
    let bestIndex = -1;
    for (let i = 0; i < n; i++) {
      const index = (this.cursor + i) % n;
      const account = accounts[index];
      if (!eligible(account)) continue;
      if (!preferLowUsage) {
        best = account;
        bestIndex = index;
        break;
      }
      if (!best || currentUtilization5h(account.limits, now) < currentUtilization5h(best.limits, now)) {
        best = account;
        bestIndex = index;
      }
    }
    if (best) this.cursor = (bestIndex + 1) % Math.max(n, 1);
    return best;
  }
}
