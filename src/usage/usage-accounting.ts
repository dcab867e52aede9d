import type { Logger } from '../logging/logger.js';
import { systemClock, type Clock } from '../oauth/clock.js';
import type { TokenStore } from '../store/token-store.js';
import type { ActivityFeed } from '../activity/activity-feed.js';
import type { ErrorClass, FinishedRequest } from './usage-buckets.js';
import { UsageStore } from './usage-store.js';
import { zeroTokens, type TappedUsage } from './usage-tap.js';

/** What the request's end tells the accounting (from the log fields and the response). */
export interface RequestEnd {
  provider: string | undefined;
  account: string | undefined;
  key: string | undefined;
  /** undefined when the client left before the response was complete. */
  status: number | undefined;
  /** The relay's failure (upstream broke mid-response, or no provider could be reached). */
  error: string | undefined;
  usage: TappedUsage | undefined;
  ttfbMs: number | undefined;
  totalMs: number;
}

export function errorClass(end: RequestEnd): ErrorClass | null {
  if (end.status === undefined) return 'client_closed';
  if (end.status < 400) return end.error || end.usage?.streamError ? 'stream' : null;
  if (end.status === 429) return 'rate_limited';
  if (end.status === 401 || end.status === 403) return 'auth';
  if (end.status < 500) return 'client';
  return end.provider === undefined ? 'unavailable' : 'server';
}

/**
 * Counts every relayed request: into the hourly usage store, the lifetime counters and the
 * service's activity feed (src/activity/activity-feed.ts). Built by the service; the app calls `requestEnded` when a /v1 response closes.
 */
export class UsageAccounting {
  readonly store: UsageStore;
  /** Called with every counted request (the metrics hook in here). */
  private readonly observers: Array<(req: FinishedRequest) => void> = [];

  constructor(
    store: TokenStore,
    log: Logger,
    private readonly activity: ActivityFeed,
    private readonly clock: Clock = systemClock,
  ) {
    this.store = new UsageStore(store, clock, log);
  }

  now(): number {
    return this.clock.now();
  }

  init(): Promise<void> {
    return this.store.load();
  }

  observe(observer: (req: FinishedRequest) => void): void {
    this.observers.push(observer);
  }

  requestEnded(end: RequestEnd): void {
    const tokens = end.usage?.tokens ?? zeroTokens();
    const req: FinishedRequest = {
      at: this.clock.now(),
      provider: end.provider ?? null,
      account: end.account ?? null,
      // The request body is never parsed on the hot path: the model is the one the response names.
      model: end.usage?.model ?? null,
      key: end.key ?? null,
      status: end.status ?? null,
      error: errorClass(end),
      tokens,
      ttfbMs: end.ttfbMs ?? null,
      totalMs: end.totalMs,
    };
    this.store.record(req);
    for (const observer of this.observers) observer(req);
    if (this.activity.listening) {
      this.activity.emit({
        at: req.at,
        provider: req.provider ?? undefined,
        account: req.account ?? undefined,
        model: req.model ?? undefined,
        key: req.key ?? undefined,
        status: req.status ?? undefined,
        ms: Math.round(req.totalMs * 10) / 10,
        ttfb_ms: req.ttfbMs === null ? undefined : Math.round(req.ttfbMs * 10) / 10,
        tokens: { ...tokens },
      });
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
