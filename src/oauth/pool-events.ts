/**
 * What the account pool announces. The names match the webhook events (issue 13); a notifier,
 * the dashboard and the console subscribe. A payload never carries a token.
 */
export type PoolEventName =
  | 'account_added'
  | 'account_removed'
  | 'refreshed'
  | 'refresh_failed'
  | 'needs_login'
  | 'banned'
  | 'rate_limited'
  | 'recovered'
  | 'pool_exhausted';

export interface PoolEvent {
  type: PoolEventName;
  /** The account's email; null for events about the whole pool (pool_exhausted). */
  account: string | null;
  /** The provider (providers.yaml name) whose request saw it, when a request did. */
  provider?: string;
  reason: string;
  /** Epoch ms when the state ends by itself (rate_limited), or when the new token expires (refreshed). */
  until?: number;
  /** Epoch ms. */
  at: number;
  /** Adopted from another instance on a shared store: that instance saw it and announced it (alerts go out once). */
  remote?: true;
}

export type PoolEventListener = (event: PoolEvent) => void;

/** A small typed event bus: a listener that throws is reported and does not stop the others or the pool. */
export class PoolEvents {
  private readonly listeners = new Map<PoolEventName | '*', Set<PoolEventListener>>();

  constructor(private readonly onListenerError: (err: unknown, event: PoolEvent) => void = () => {}) {}

  /** Subscribes to one event, or to all of them with '*'; returns the unsubscribe function. */
  on(name: PoolEventName | '*', listener: PoolEventListener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit(event: PoolEvent): void {
    for (const name of [event.type, '*'] as const) {
      for (const listener of this.listeners.get(name) ?? []) {
        try {
          listener(event);
        } catch (err) {
          this.onListenerError(err, event);
        }
      }
    }
  }
}
