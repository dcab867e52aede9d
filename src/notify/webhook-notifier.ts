import { Agent, request } from 'undici';
import { NOTIFY_EVENTS, type NotifySettings } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import type { Clock } from '../oauth/clock.js';
import type { PoolEvent, PoolEvents } from '../oauth/pool-events.js';

type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** What the webhook receives. Names, reasons and times only: never a token. */
export interface AlertPayload {
  event: NotifyEvent;
  /** The account's email; null for pool_exhausted. */
  account: string | null;
  /** The provider whose request saw it; null when no request did (a timed refresh). */
  provider: string | null;
  reason: string;
  /** ISO 8601: when a rate limit resets, or when the pool frees up by itself. */
  until?: string;
  /** ISO 8601. */
  at: string;
}

/** Waits before the 2nd, 3rd, ... try of a delivery. */
export const RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000];
const TIMEOUT_MS = 10_000;
/** Deliveries pending at once; past this the oldest is dropped (a webhook that is down must not grow memory). */
const MAX_PENDING = 100;

const isNotifyEvent = (type: string): type is NotifyEvent => (NOTIFY_EVENTS as readonly string[]).includes(type);

/** A webhook URL can hold a secret in its path (Slack's do): logs name its origin only. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the webhook';
  }
}

interface Delivery {
  payload: AlertPayload;
  url: string;
  tries: number;
  timer: unknown;
}

/**
 * Sends the pool's alert events to settings.notify.webhook_url as JSON POSTs, retrying with
 * backoff (RETRY_DELAYS_MS) on network errors, 429 and 5xx. It runs beside the requests: the
 * pool's event returns at once and a slow or dead webhook delays nothing.
 */
export class WebhookNotifier {
  private readonly pending = new Set<Delivery>();
  private readonly agent = new Agent({ connect: { timeout: TIMEOUT_MS } });
  private closed = false;
  /** pool_exhausted comes with every request the pool cannot serve: it is sent once until an account serves again. */
  private exhaustedSent = false;

  constructor(
    private readonly settings: () => NotifySettings,
    events: PoolEvents,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    events.on('*', (event) => this.onEvent(event));
  }

  private onEvent(event: PoolEvent): void {
    if (event.type === 'recovered' || event.type === 'account_added' || event.type === 'refreshed') this.exhaustedSent = false;
    const { webhook_url: url, events } = this.settings();
    // The instance that saw it sends it: with several on one Redis, one alert per event.
    if (!isNotifyEvent(event.type) || this.closed || event.remote) return;
    if (events && !events.includes(event.type)) return;
    if (event.type === 'pool_exhausted') {
      if (this.exhaustedSent) return;
      this.exhaustedSent = true;
    }
    const payload: AlertPayload = {
      event: event.type,
      account: event.account,
      provider: event.provider ?? null,
      reason: event.reason,
      ...(event.until !== undefined ? { until: new Date(event.until).toISOString() } : {}),
      at: new Date(event.at).toISOString(),
    };
    this.log.warn(
      { event: payload.event, account: payload.account, provider: payload.provider ?? undefined, reason: payload.reason, until: payload.until, webhook: url ? origin(url) : undefined },
      `alert: ${payload.event}`,
    );
    if (!url) return;
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.values().next().value!;
      this.drop(oldest);
      this.log.warn({ event: oldest.payload.event, webhook: origin(url) }, 'alert dropped: too many undelivered alerts');
    }
    const delivery: Delivery = { payload, url, tries: 0, timer: null };
    this.pending.add(delivery);
    void this.attempt(delivery);
  }

  private async attempt(delivery: Delivery): Promise<void> {
    delivery.timer = null;
    delivery.tries++;
    let failure: string;
    try {
      const res = await request(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'claude-code-balancer' },
        body: JSON.stringify(delivery.payload),
        dispatcher: this.agent,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      await res.body.dump();
      if (res.statusCode < 300) {
        this.pending.delete(delivery);
        return;
      }
      failure = `HTTP ${res.statusCode}`;
      if (res.statusCode < 500 && res.statusCode !== 429) return this.giveUp(delivery, failure);
    } catch (err) {
      failure = (err as Error).message;
    }
    if (this.closed || !this.pending.has(delivery)) return;
    const wait = RETRY_DELAYS_MS[delivery.tries - 1];
    if (wait === undefined) return this.giveUp(delivery, failure);
    delivery.timer = this.clock.setTimeout(() => void this.attempt(delivery), wait);
  }

  private giveUp(delivery: Delivery, failure: string): void {
    this.pending.delete(delivery);
    this.log.warn(
      { event: delivery.payload.event, account: delivery.payload.account, webhook: origin(delivery.url), tries: delivery.tries, err: failure },
      'alert not delivered',
    );
  }

  private drop(delivery: Delivery): void {
    if (delivery.timer !== null) this.clock.clearTimeout(delivery.timer);
    this.pending.delete(delivery);
  }

  /** Retries still waiting are given up (shutdown must not wait on a webhook). */
  async close(): Promise<void> {
    this.closed = true;
    for (const delivery of [...this.pending]) this.drop(delivery);
    await this.agent.close();
  }
}
