import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StoreError } from '../token-store.js';

export type RedisState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** The URL with its password (and user) replaced, fit for logs and error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable redis_url)';
  }
}

export interface RedisConnectionOptions {
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  connectTimeoutMs?: number;
}

/**
 * The Redis store's two connections (commands; pub/sub, which a subscribed connection cannot
 * share). Startup fails on the first error; after that ioredis reconnects on its own, commands
 * fail at once while Redis is away (the pool serves from memory meanwhile), and `onReconnect`
 * hooks run once both connections are back, so the instance can re-read what it missed.
 */
export class RedisConnection {
  state: RedisState = 'connecting';
  private lostAt: number | null = null;
  private readonly reconnectHooks: Array<() => void> = [];
  private readonly readyHooks = new Set<() => void>();

  private constructor(
    readonly client: Redis,
    readonly subscriber: Redis,
    readonly displayUrl: string,
    private readonly log?: RedisConnectionOptions['log'],
  ) {}

  /** Connects both; throws StoreError('unavailable') naming the URL (never its password) and the error. */
  static async open(url: string, opts: RedisConnectionOptions = {}): Promise<RedisConnection> {
    const displayUrl = redactRedisUrl(url);
    let started = false;
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      // No retries while starting: the service should say at once that Redis is not there.
      retryStrategy: (times) => (started ? Math.min(times * 200, 2000) : null),
      // While Redis is away a command fails at once instead of queueing: writes are retried by
      // the pool, refreshes wait for the connection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    };
    const client = new Redis(url, { ...options, connectionName: 'ccb' });
    const subscriber = new Redis(url, { ...options, connectionName: 'ccb-sub' });
    const errors: Error[] = [];
    const collect = (err: Error) => void errors.push(err);
    client.on('error', collect);
    subscriber.on('error', collect);
    try {
      await Promise.all([client.connect(), subscriber.connect()]);
      await client.ping();
    } catch (err) {
      client.disconnect();
      subscriber.disconnect();
      const cause = errors[0] ?? (err as Error);
      throw new StoreError(
        'unavailable',
        `cannot reach Redis at ${displayUrl} (settings.oauth.redis_url): ${cause.message || String(cause)}`,
      );
    } finally {
      client.off('error', collect);
      subscriber.off('error', collect);
    }
    started = true;
    const connection = new RedisConnection(client, subscriber, displayUrl, opts.log);
    connection.watch();
    return connection;
  }

  /** Runs `hook` each time the connections are back after a loss. */
  onReconnect(hook: () => void): void {
    this.reconnectHooks.push(hook);
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.readyHooks.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readyHooks.delete(done);
        reject(new StoreError('unavailable', `Redis at ${this.displayUrl} is unreachable`));
      }, timeoutMs);
      this.readyHooks.add(done);
    });
  }

  async close(): Promise<void> {
    this.state = 'closed';
    await Promise.allSettled([this.client.quit(), this.subscriber.quit()]);
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  private watch(): void {
    this.state = 'connected';
    const lost = (err?: Error) => {
      if (this.state !== 'connected') return;
      this.state = 'disconnected';
      this.lostAt = Date.now();
      // Once per outage, not once per reconnect attempt.
      this.log?.error(
        { redis: this.displayUrl, err: err?.message },
        'lost the connection to Redis: serving from memory, refreshes and writes wait until it is back',
      );
    };
    const back = () => {
      if (this.state !== 'disconnected' || this.client.status !== 'ready' || this.subscriber.status !== 'ready') return;
      this.state = 'connected';
      this.log?.info({ redis: this.displayUrl, down_ms: Date.now() - (this.lostAt ?? Date.now()) }, 'Redis is back: re-reading the pool');
      for (const hook of this.reconnectHooks) hook();
      for (const hook of [...this.readyHooks]) hook();
    };
    for (const conn of [this.client, this.subscriber]) {
      conn.on('error', (err: Error) => lost(err));
      conn.on('close', () => lost());
      conn.on('ready', back);
    }
  }
}
