import { Pool } from 'undici';

export interface DispatcherOptions {
  connectTimeoutMs: number;
}

/**
 * One keep-alive connection pool per upstream origin, created on first use. No cap on
 * connections: streams of long completions must not queue behind each other.
 */
export class UpstreamDispatchers {
  private readonly pools = new Map<string, Pool>();

  constructor(private options: DispatcherOptions) {}

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: null,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: this.options.connectTimeoutMs },
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Applies new connect settings to pools created from now on (after a reload). */
  configure(options: DispatcherOptions): void {
    if (options.connectTimeoutMs === this.options.connectTimeoutMs) return;
    this.options = options;
    const old = [...this.pools.values()];
    this.pools.clear();
    for (const pool of old) void pool.close().catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => {})));
    this.pools.clear();
  }

  /** Ends in-flight upstream requests at once (shutdown after the grace period). */
  async destroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => {})));
    this.pools.clear();
  }
}
