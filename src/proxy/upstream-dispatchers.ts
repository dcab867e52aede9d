import { Pool, type Dispatcher } from 'undici';
import { proxyDispatcher, proxyRoute } from '../net/outbound-proxy.js';

export interface DispatcherOptions {
  connectTimeoutMs: number;
  /** settings.proxy. */
  proxy?: string;
  env: NodeJS.ProcessEnv;
}

/**
 * One keep-alive connection pool per upstream origin, created on first use. No cap on
 * connections: streams of long completions must not queue behind each other.
 */
export class UpstreamDispatchers {
  private readonly pools = new Map<string, Pool>();
  /**
   * The proxy agent per value of a provider's `proxy` key (undefined: settings.proxy or the
   * environment), worked out once; null where that route is direct.
   */
  private readonly proxied = new Map<string | undefined, Dispatcher | null>();
  /** True when neither settings.proxy nor the environment names a proxy: the direct path does no extra work. */
  private direct: boolean;

  constructor(private options: DispatcherOptions) {
    this.direct = proxyRoute(undefined, options.proxy, options.env).kind === 'direct';
  }

  /** providerProxy: the provider's own `proxy` key. */
  get(origin: string, providerProxy?: string): Dispatcher {
    if (providerProxy !== undefined || !this.direct) {
      let agent = this.proxied.get(providerProxy);
      if (agent === undefined) {
        const route = proxyRoute(providerProxy, this.options.proxy, this.options.env);
        agent = route.kind === 'direct' ? null : proxyDispatcher(route, { connectTimeoutMs: this.options.connectTimeoutMs, keepAliveTimeout: 30_000 });
        this.proxied.set(providerProxy, agent);
      }
      if (agent) return agent;
    }
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
    if (options.connectTimeoutMs === this.options.connectTimeoutMs && options.proxy === this.options.proxy) return;
    this.options = options;
    this.direct = proxyRoute(undefined, options.proxy, options.env).kind === 'direct';
    const old = this.all();
    this.pools.clear();
    this.proxied.clear();
    for (const pool of old) void pool.close().catch(() => {});
  }

  /**
   * After a reload: the proxy agents for `proxy` values no provider names any more are closed once
   * their requests end, rather than kept open with their tunnels for ever.
   */
  retainProxies(providerProxies: Iterable<string | undefined>): void {
    const inUse = new Set(providerProxies);
    for (const [key, agent] of this.proxied) {
      if (inUse.has(key)) continue;
      this.proxied.delete(key);
      void agent?.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.close().catch(() => {})));
    this.pools.clear();
    this.proxied.clear();
  }

  /** Ends in-flight upstream requests at once (shutdown after the grace period). */
  async destroy(): Promise<void> {
    await Promise.all(this.all().map((p) => p.destroy().catch(() => {})));
    this.pools.clear();
    this.proxied.clear();
  }

  private all(): Dispatcher[] {
    return [...this.pools.values(), ...[...this.proxied.values()].filter((d): d is Dispatcher => d !== null)];
  }
}
