/** One finished /v1 request as the activity feed announces it: names and numbers, never a prompt or a secret. */
export interface ActivityEntry {
  /** Epoch ms when the response ended. */
  at: number;
  provider?: string;
  account?: string;
  /** The model the request asked for. */
  model?: string;
  /** The client key's name (never its value). */
  key?: string;
  /** The status the client got; absent when the client left first. */
  status?: number;
  ms: number;
  ttfb_ms?: number;
  tokens?: { input?: number; output?: number; cache_creation?: number; cache_read?: number };
}

export type ActivityListener = (entry: ActivityEntry) => void;

/**
 * The in-process feed of finished requests (the dashboard's live log listens). Emitting costs
 * nothing while nobody listens, which is what the request path checks first.
 */
export class ActivityFeed {
  private readonly listeners = new Set<ActivityListener>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  get listening(): boolean {
    return this.listeners.size > 0;
  }

  on(listener: ActivityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(entry: ActivityEntry): void {
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
