import type { Logger } from '../logging/logger.js';
import type { RemoteChange, SharedTokenStore } from '../store/token-store.js';
import type { AccountPool } from './account-pool.js';
import type { PendingLogins } from './pending-logins.js';
import type { RefreshLock, RefreshRight } from './refresh-lock.js';
import type { Refresher } from './refresher.js';
import { PIN_IDLE_MS, SessionSelector } from './selection/session.js';
import type { Selector } from './selection/selector.js';

/**
 * Keeps this instance's pool in step with the other instances on a shared store (Redis). Requests
 * are served from the pool in memory; what another instance changes (a login, a logout, new
 * tokens, a verdict, a rate-limit bench) is adopted as it is announced. A refresh takes the
 * store's per-account lock and re-reads the account first, so that tokens another instance
 * rotated meanwhile are used instead of being refreshed again.
 */
export class SharedPool {
  readonly refreshLock: RefreshLock;
  private refresher: Refresher | null = null;
  private sessions: SessionSelector | null = null;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly store: SharedTokenStore,
    private readonly pool: AccountPool,
    private readonly log: Logger,
  ) {
    this.refreshLock = { acquire: (key) => this.acquireFresh(key) };
  }

  /** Wires the parts built after the pool: the refresher (rescheduled on remote tokens) and the logins. */
  attach(refresher: Refresher, logins: PendingLogins): void {
    this.refresher = refresher;
    logins.shareWith(this.store);
    this.offs.push(
      this.store.onRemoteChange((change) => this.apply(change)),
      this.pool.events.on('rate_limited', (event) => {
        if (event.remote || !event.account || event.until === undefined) return;
        this.store.shareBench(event.account, event.until, event.reason).catch((err: Error) => {
          this.log.warn({ account: event.account, err: err.message }, 'could not share a rate-limit bench');
        });
      }),
    );
  }

  /** The selection policy in force: with `session`, its pins are shared (a new policy replaces the old one). */
  shareSelections(selector: Selector): void {
    if (this.sessions) this.sessions.onPin = null;
    this.sessions = selector instanceof SessionSelector ? selector : null;
    if (!this.sessions) return;
    // Only the selector's own pins: adoptPin does not call onPin, so a remote pin is not shared back.
    this.sessions.onPin = (session, key) => {
      this.store.sharePin(session, key, PIN_IDLE_MS).catch((err: Error) => {
        this.log.warn({ err: err.message }, 'could not share a session pin');
      });
    };
  }

  /** After the pool has loaded: the benches and pins other instances already know of. */
  async init(): Promise<void> {
    try {
      for (const bench of await this.store.loadBenches()) this.apply({ type: 'bench', ...bench });
      for (const pin of await this.store.loadPins()) this.apply({ type: 'pin', ...pin });
    } catch (err) {
      // Benches and pins are hints: without them this instance learns them as it goes.
      this.log.warn({ err: (err as Error).message }, 'could not read the shared rate-limit benches and session pins');
    }
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private async acquireFresh(key: string): Promise<RefreshRight> {
    const right = await this.store.refreshLock.acquire(key);
    try {
      const record = await this.store.reload(key);
      this.apply(record ? { type: 'upsert', record } : { type: 'removed', email: key });
    } catch (err) {
      // Without a fresh read there is no telling whether the tokens are still the current ones.
      await right.release();
      throw err;
    }
    return right;
  }

  private apply(change: RemoteChange): void {
    switch (change.type) {
      case 'upsert': {
        const before = this.pool.get(change.record.email)?.record;
        const account = this.pool.adopt(change.record);
        const changed = before?.expires_at !== change.record.expires_at || before?.verdict?.state !== change.record.verdict?.state;
        // A timer lost to a refresh that could not get the lock (Redis away) is armed again here.
        if (changed || this.refresher?.scheduledAt(account) === null) this.refresher?.reschedule(account);
        break;
      }
      case 'removed':
        this.pool.forget(change.email);
        break;
      case 'pin':
        this.sessions?.adoptPin(change.session, change.email, this.pool.clock.now());
        break;
      case 'bench': {
        const account = this.pool.get(change.email);
        if (account && change.until > this.pool.clock.now()) this.pool.adoptBench(account, change.until);
        break;
      }
    }
  }
}
