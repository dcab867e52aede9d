import { ClientKeys } from './access/client-keys.js';
import { ActivityFeed } from './activity/activity-feed.js';
import type { Config } from './config/schema.js';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger, type Logger } from './logging/logger.js';
import type { DestinationStream } from 'pino';
import { systemClock, type Clock } from './oauth/clock.js';
import { OAuthCredentialSource } from './oauth/oauth-credentials.js';
import { OAuthSubsystem } from './oauth/subsystem.js';
import { TOKEN_KEEP_ALIVE_MS } from './oauth/token-client.js';
import { ProviderManager } from './providers/provider-manager.js';
import { Forwarder } from './proxy/forward.js';
import { UpstreamDispatchers } from './proxy/upstream-dispatchers.js';
import { describeRoute, proxyDispatcher, proxyRoute } from './net/outbound-proxy.js';
import type { TokenStore } from './store/token-store.js';
import { createTokenStore } from './store/select-store.js';
import { UsageAccounting } from './usage/usage-accounting.js';
import { Metrics } from './metrics/prometheus.js';
import { WebhookNotifier } from './notify/webhook-notifier.js';

export interface ServiceOptions {
  config: Config;
  configPath: string;
  env?: NodeJS.ProcessEnv;
  /** Log destination (tests capture it); stdout when omitted. */
  logDestination?: DestinationStream;
  /** Token store to use instead of the one the config selects (tests). */
  store?: TokenStore;
  clock?: Clock;
  /** Settings given on the command line; they win over the file, on reload too. */
  overrides?: Partial<Pick<Config['settings'], 'host' | 'port'>>;
  printBanner?: (text: string) => void;
}

export type ReloadResult = { ok: true; needsRestart: string[] } | { ok: false; problems: string[] };

/** Settings that are bound when the server starts and so need a restart to change. */
const RESTART_ONLY = ['host', 'port', 'max_body_bytes', 'max_connections'] as const;
/** settings.oauth keys that choose the token store, bound at startup too. */
const STORE_KEYS = [
  'store',
  'file_path',
  'enable_persistence',
  'service_name',
  'redis_url',
  'redis_prefix',
  'encryption_key',
  'allow_plaintext_redis',
  'redis_lock_ttl_ms',
] as const;

/** The running service's parts, built from a config and re-configured on reload. */
export class Service {
  config: Config;
  readonly configPath: string;
  readonly logger: Logger;
  readonly providers: ProviderManager;
  readonly forwarder: Forwarder;
  readonly oauth: OAuthSubsystem;
  /** The keys /v1 clients present (settings.client_keys and those created at run time). */
  readonly clientKeys: ClientKeys;
  /** Token usage per hour, account, model and key (it feeds `activity` too). */
  readonly usage: UsageAccounting;
  /** GET /metrics; built once the usage store is loaded, which seeds its counters. */
  metrics!: Metrics;
  /** settings.notify: the pool's alerts to a webhook. */
  readonly notifier: WebhookNotifier;
  readonly storeReason: string;
  readonly store: TokenStore;
  /** Every finished /v1 request (the dashboard's live log). */
  readonly activity: ActivityFeed;
  private readonly dispatchers: UpstreamDispatchers;
  /** settings.proxy as the token client was built with. */
  private readonly tokenProxy: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly overrides: Partial<Pick<Config['settings'], 'host' | 'port'>>;
  private listenUrl = 'http://127.0.0.1:9090';

  private constructor(options: ServiceOptions, store: TokenStore, storeReason: string, logger: Logger, clientKeys: ClientKeys) {
    const { config } = options;
    this.config = config;
    this.clientKeys = clientKeys;
    this.configPath = options.configPath;
    this.env = options.env ?? process.env;
    this.overrides = options.overrides ?? {};
    this.logger = logger;
    this.storeReason = storeReason;
    this.store = store;
    this.activity = new ActivityFeed((err) => logger.error({ err: (err as Error).message }, 'an activity listener failed'));
    this.tokenProxy = config.settings.proxy;
    const tokenRoute = proxyRoute(undefined, config.settings.proxy, this.env);
    this.oauth = new OAuthSubsystem(config.settings.oauth, {
      tokenDispatcher:
        tokenRoute.kind === 'direct' ? undefined : proxyDispatcher(tokenRoute, { connectTimeoutMs: config.settings.timeouts.connect_ms, keepAliveTimeout: TOKEN_KEEP_ALIVE_MS }),
      store,
      log: logger,
      clock: options.clock,
      serviceUrl: () => this.listenUrl,
      printBanner: options.printBanner,
    });
    this.providers = new ProviderManager(
      config.providers,
      config.settings.failure_cooldown,
      (provider) => new OAuthCredentialSource(this.oauth, provider.name),
    );
    this.dispatchers = new UpstreamDispatchers({ connectTimeoutMs: config.settings.timeouts.connect_ms, proxy: config.settings.proxy, env: this.env });
    this.forwarder = new Forwarder(this.providers, this.dispatchers, forwardSettings(config), logger);
    this.usage = new UsageAccounting(store, logger, this.activity, options.clock);
    this.notifier = new WebhookNotifier(() => this.config.settings.notify, this.oauth.pool.events, logger, options.clock ?? systemClock);
  }

  /**
   * Builds the service and loads the stored accounts and client keys. Throws StoreError when the
   * store cannot be used, ConfigError when the config cannot be used with the stored keys.
   */
  static async create(options: ServiceOptions): Promise<Service> {
    const logger = createLogger({ level: options.config.settings.log_level, destination: options.logDestination });
    let store = options.store;
    let reason = 'given by the caller';
    if (!store) {
      ({ store, reason } = await createTokenStore(options.config.settings.oauth, { env: options.env, log: logger }));
    }
    const clientKeys = await ClientKeys.open(store, options.config.settings.client_keys, { clock: options.clock, log: logger });
    const conflict = clientKeys.conflictWith(options.config);
    if (conflict) throw new ConfigError(options.configPath, [`${options.configPath}: ${conflict}`]);
    const service = new Service(options, store, reason, logger, clientKeys);
    await service.oauth.init();
    await service.usage.init();
    service.metrics = new Metrics(service.usage, service.oauth.pool);
    return service;
  }

  setListenUrl(url: string): void {
    this.listenUrl = url;
  }

  get url(): string {
    return this.listenUrl;
  }

  /** The outbound route of each provider and of the token endpoint, credentials left out (startup output). */
  outboundRoutes(): string[] {
    const routes = this.providers.all().map((p) => `${p.name} ${describeRoute(proxyRoute(p.config.proxy, this.config.settings.proxy, this.env))}`);
    routes.push(`token endpoint ${describeRoute(proxyRoute(undefined, this.tokenProxy, this.env))}`);
    return routes;
  }

  /** Session identity is read from requests only when the scheduler uses it. */
  wantsSessionIdentity(): boolean {
    return this.config.settings.oauth.strategy === 'session';
  }

  /** Re-reads the config file; an invalid file changes nothing. */
  async reload(): Promise<ReloadResult> {
    let next: Config;
    try {
      next = await loadConfig(this.configPath, this.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        this.logger.error({ config: this.configPath, problems: err.problems }, 'config reload refused; the running config stays in force');
        return { ok: false, problems: err.problems };
      }
      throw err;
    }
    Object.assign(next.settings, this.overrides);
    const conflict = this.clientKeys.conflictWith(next);
    if (conflict) {
      const problems = [`${this.configPath}: ${conflict}`];
      this.logger.error({ config: this.configPath, problems }, 'config reload refused; the running config stays in force');
      return { ok: false, problems };
    }
    // this.config holds the values in force for what only a restart changes (the listener, the
    // body limit, the store), whatever files were read since: compare with those, and keep them.
    const needsRestart = RESTART_ONLY.filter((k) => next.settings[k] !== this.config.settings[k]);
    const oauthStorageChanged = STORE_KEYS.some((k) => next.settings.oauth[k] !== this.config.settings.oauth[k]);
    const restartKeys: string[] = [...needsRestart];
    if (oauthStorageChanged) restartKeys.push('oauth storage');
    // The listener's request deadline is set when it starts.
    if (next.settings.timeouts.request_ms !== this.config.settings.timeouts.request_ms) restartKeys.push('timeouts.request_ms');
    // Until the restart, decisions such as "/v1 is exposed beyond loopback" follow the running ones.
    for (const k of RESTART_ONLY) (next.settings as Record<string, unknown>)[k] = this.config.settings[k];
    for (const k of STORE_KEYS) (next.settings.oauth as Record<string, unknown>)[k] = this.config.settings.oauth[k];
    next.settings.timeouts = { ...next.settings.timeouts, request_ms: this.config.settings.timeouts.request_ms };
    // The token client's dispatcher is built once: a changed settings.proxy reaches it at the restart.
    if (next.settings.proxy !== this.tokenProxy) restartKeys.push('proxy (token endpoint)');
    this.config = next;
    this.logger.level = next.settings.log_level;
    this.providers.update(next.providers, next.settings.failure_cooldown);
    this.dispatchers.configure({ connectTimeoutMs: next.settings.timeouts.connect_ms, proxy: next.settings.proxy, env: this.env });
    this.dispatchers.retainProxies(next.providers.filter((p) => p.enabled).map((p) => p.proxy));
    this.forwarder.configure(forwardSettings(next));
    this.oauth.configure(next.settings.oauth);
    this.clientKeys.configure(next.settings.client_keys);
    this.logger.info(
      { config: this.configPath, providers: next.providers.filter((p) => p.enabled).map((p) => p.name), needs_restart: restartKeys },
      'config reloaded',
    );
    return { ok: true, needsRestart: restartKeys };
  }

  /** After the HTTP server has stopped: persist what is pending, close upstream connections. */
  async close(): Promise<void> {
    await this.clientKeys.close();
    await this.usage.close();
    await this.notifier.close();
    await this.oauth.close();
    await this.store.close?.();
    await this.dispatchers.close();
    this.logger.flush();
  }

  /** Ends upstream requests still running (shutdown grace period over). */
  async abortUpstreams(): Promise<void> {
    await this.dispatchers.destroy();
  }
}

function forwardSettings(config: Config) {
  return { headersTimeoutMs: config.settings.timeouts.headers_ms, idleTimeoutMs: config.settings.timeouts.idle_ms };
}
