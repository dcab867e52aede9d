import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AccountPool } from '../oauth/account-pool.js';
import type { PoolEvent } from '../oauth/pool-events.js';
import { liveSnapshot } from '../store/account-record.js';
import type { UsageAccounting } from '../usage/usage-accounting.js';
import { counterName } from '../usage/usage-store.js';

/** What a pool event says about a refresh, if anything. */
function refreshOutcome(event: PoolEvent): string | null {
  if (event.type === 'refreshed') return 'success';
  if (event.type === 'refresh_failed') return 'failure';
  // The token endpoint refused the refresh token (invalid_grant): a login is needed.
  if (event.type === 'needs_login' && event.reason.startsWith('refresh refused')) return 'rejected';
  return null;
}

/**
 * The Prometheus view of the service (`GET /metrics`). The counters are read from the usage
 * store's lifetime counters and the account gauges from the pool, at each scrape; only the TTFB
 * histogram is fed per request.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'balancer_requests_total',
    help: 'Relayed /v1 requests by the provider and account that answered and the status the client got.',
    labelNames: ['provider', 'account', 'status'] as const,
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'balancer_tokens_total',
    help: 'Tokens the upstream reported in relayed responses, by type (input, output, cache_creation, cache_read).',
    labelNames: ['provider', 'account', 'model', 'type'] as const,
    registers: [this.registry],
  });
  private readonly ttfb = new Histogram({
    name: 'balancer_upstream_duration_seconds',
    help: 'Time from a request\'s arrival to the head of the upstream response delivered to the client (TTFB).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly refreshes = new Counter({
    name: 'balancer_refreshes_total',
    help: 'Token refreshes by outcome: success, failure (will retry), rejected (a new login is needed).',
    labelNames: ['account', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(
    private readonly usage: UsageAccounting,
    private readonly pool: AccountPool,
  ) {
    const now = (): number => this.pool.clock.now();
    new Gauge({
      name: 'balancer_account_available',
      help: '1 when the account can serve now, else 0.',
      labelNames: ['account'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const account of pool.list()) this.set({ account: account.email }, account.availability(now()).state === 'usable' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'balancer_account_utilization',
      help: 'The share (0-1) of the account\'s 5-hour and 7-day windows used, as the last response reported it.',
      labelNames: ['account', 'window'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const account of pool.list()) {
          const u5 = liveSnapshot(account.record.utilization_5h, now());
          const u7 = liveSnapshot(account.record.utilization_7d, now());
          if (u5) this.set({ account: account.email, window: '5h' }, u5.utilization);
          if (u7) this.set({ account: account.email, window: '7d' }, u7.utilization);
        }
      },
    });
    usage.observe((req) => {
      if (req.ttfbMs !== null) this.ttfb.observe(req.ttfbMs / 1000);
    });
    pool.events.on('*', (event) => {
      const outcome = refreshOutcome(event);
      if (outcome && event.account) usage.store.addCounter(counterName.refreshes(event.account, outcome), 1);
    });
  }

  /** The text exposition format. */
  render(): Promise<string> {
    this.loadCounters();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The counters are the usage store's lifetime counters (persisted ones plus this process's),
   * set at each scrape: nothing is counted twice on the request path, and a restart continues them.
   */
  private loadCounters(): void {
    this.requests.reset();
    this.tokens.reset();
    this.refreshes.reset();
    for (const [name, value] of this.usage.store.counters()) {
      let parts: unknown;
      try {
        parts = JSON.parse(name);
      } catch {
        continue;
      }
      if (!Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) continue;
      const [kind, ...labels] = parts as string[];
      if (kind === 'requests' && labels.length === 3) {
        this.requests.inc({ provider: labels[0], account: labels[1], status: labels[2] }, value);
      } else if (kind === 'tokens' && labels.length === 4) {
        this.tokens.inc({ provider: labels[0], account: labels[1], model: labels[2], type: labels[3] }, value);
      } else if (kind === 'refreshes' && labels.length === 2) {
        this.refreshes.inc({ account: labels[0], outcome: labels[1] }, value);
      }
    }
  }
}
