/** The right to refresh one account; released when the refresh has stored its result (or failed). */
export interface RefreshRight {
  release(): Promise<void>;
}

/**
 * Who may refresh an account now. The refresher already shares one refresh per account among
 * the requests of this process; a lock across processes (e.g. Redis, issue 14) implements this
 * so that only one machine sends an account's single-use refresh token. Such a lock must be
 * paired with a store that is re-read after the right is taken, since another holder may have
 * rotated the tokens meanwhile.
 */
export interface RefreshLock {
  /** Resolves once this process holds the refresh right of the account (keyed by accountKey). */
  acquire(key: string): Promise<RefreshRight>;
}

/** The in-process default: one holder per account at a time, the others queue in order. */
export class LocalRefreshLock implements RefreshLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(key: string): Promise<RefreshRight> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => held);
    this.tails.set(key, tail);
    await previous;
    return {
      release: async () => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      },
    };
  }
}
