import type { RedisConnection } from './redis-connection.js';

/** What one instance tells the others; keys and times only, never a token. */
export type StoreChange =
  | { kind: 'account'; key: string }
  | { kind: 'removed'; key: string }
  | { kind: 'lock_free'; key: string }
  | { kind: 'bench'; key: string }
  | { kind: 'pin'; key: string; session: string }
  /** A named document was replaced; key is its name. */
  | { kind: 'document'; key: string };

type Listener = (change: StoreChange) => void;

/**
 * Change notifications between the instances on one Redis (pub/sub on `<prefix>changes`). A
 * message is a hint to re-read, not the data: what was missed while disconnected is caught up by
 * the full re-read that RedisConnection's reconnect hook triggers.
 */
export class ChangeFeed {
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly connection: RedisConnection,
    readonly channel: string,
    /** Messages an instance sent itself are not delivered back to it. */
    readonly instanceId: string,
  ) {}

  async start(): Promise<void> {
    this.connection.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let message: StoreChange & { from?: string };
      try {
        message = JSON.parse(text) as StoreChange & { from?: string };
      } catch {
        return;
      }
      if (message.from === this.instanceId || typeof message.key !== 'string') return;
      const { from: _from, ...change } = message;
      for (const listener of [...this.listeners]) listener(change as StoreChange);
    });
    await this.connection.subscriber.subscribe(this.channel);
  }

  /** Best effort: a lost message is made up for by the re-read on reconnect. */
  async publish(change: StoreChange): Promise<void> {
    await this.connection.client.publish(this.channel, JSON.stringify({ ...change, from: this.instanceId })).catch(() => 0);
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true when a change matching `match` arrives within `ms`, else false. */
  next(match: (change: StoreChange) => boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, ms);
      const off = this.on((change) => {
        if (!match(change)) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }
}
