import type { Dispatcher } from 'undici';
import type { OAuthSettings } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import { isSharedStore, type TokenStore } from '../store/token-store.js';
import { AccountPool } from './account-pool.js';
import { systemClock, type Clock } from './clock.js';
import { LoginFlow } from './login-flow.js';
import { logPoolEvents } from './pool-log.js';
import type { RefreshLock } from './refresh-lock.js';
import { Refresher } from './refresher.js';
import { createSelector } from './selection/index.js';
import { SharedPool } from './shared-pool.js';
import type { Selector } from './selection/selector.js';
import { TokenClient } from './token-client.js';

export interface OAuthSubsystemDeps {
  store: TokenStore;
  log: Logger;
  clock?: Clock;
  /** Where users reach this service (for the curl command in 401s and banners). */
  serviceUrl: () => string;
  /** Where the auth-required banner goes; stderr by default. */
  printBanner?: (text: string) => void;
  /** Who may refresh an account; in-process by default. */
  refreshLock?: RefreshLock;
  /** Token-endpoint and profile calls go through it (the outbound proxy); a direct agent by default. */
  tokenDispatcher?: Dispatcher;
}

/**
 * The account pool and its parts, wired together: the registry (`pool`), the `refresher`, the
 * `logins` and the selection policy settings.oauth.strategy names. Nothing here decides
 * anything; it builds, reconfigures and closes.
 */
export class OAuthSubsystem {
  readonly pool: AccountPool;
  readonly refresher: Refresher;
  readonly logins: LoginFlow;
  private current: Selector;
  private readonly tokens: TokenClient;
  /** With a store several instances share: keeps this pool in step with theirs. */
  private readonly shared: SharedPool | null;
  private closed = false;
  /** Where users reach this service, for what the pool tells them. */
  readonly serviceUrl: () => string;
  readonly log: Logger;

  constructor(
    private config: OAuthSettings,
    deps: OAuthSubsystemDeps,
  ) {
    this.serviceUrl = deps.serviceUrl;
    this.log = deps.log;
    this.pool = new AccountPool({ store: deps.store, log: deps.log, clock: deps.clock ?? systemClock });
    logPoolEvents(this.pool.events, deps.log);
    this.tokens = new TokenClient(config, deps.tokenDispatcher);
    this.shared = isSharedStore(deps.store) ? new SharedPool(deps.store, this.pool, deps.log) : null;
    this.refresher = new Refresher(this.pool, this.tokens, config, deps.log, deps.refreshLock ?? this.shared?.refreshLock);
    this.logins = new LoginFlow(this.pool, this.tokens, config, deps);
    this.shared?.attach(this.refresher, this.logins.pending);
    this.current = createSelector(config);
    this.shared?.shareSelections(this.current);
  }

  get settings(): OAuthSettings {
    return this.config;
  }

  get selector(): Selector {
    return this.current;
  }

  /** Loads the stored accounts; the refresher schedules them (those already due first, spread apart). */
  async init(): Promise<void> {
    await this.pool.load();
    await this.shared?.init();
  }

  configure(settings: OAuthSettings): void {
    const policyChanged = settings.strategy !== this.config.strategy || settings.fill_threshold !== this.config.fill_threshold;
    this.config = settings;
    this.tokens.configure(settings);
    this.logins.configure(settings);
    this.refresher.configure(settings);
    if (policyChanged) {
      this.current = createSelector(settings);
      this.shared?.shareSelections(this.current);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.logins.close();
    this.shared?.close();
    await this.refresher.close();
    await this.pool.flush();
    await this.tokens.close();
  }
}
