import { accountKey, type AccountRecord } from '../oauth/account.js';
import type { TokenStore } from './token-store.js';

/** Accounts kept in memory only: for enable_persistence: false, and for tests. */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory' as const;
  readonly location = 'memory (not persisted)';
  private readonly records = new Map<string, AccountRecord>();

  async load(): Promise<AccountRecord[]> {
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  async save(account: AccountRecord): Promise<void> {
    this.records.set(accountKey(account.email), structuredClone(account));
  }

  async remove(email: string): Promise<void> {
    this.records.delete(accountKey(email));
  }
}
