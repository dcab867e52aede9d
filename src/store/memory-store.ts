import { accountKey, type AccountRecord } from './account-record.js';
import { assertDocumentName, type TokenStore } from './token-store.js';

/** Keeps accounts for the life of the process only (enable_persistence: false, tests). */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory' as const;
  readonly location = 'memory (not persisted)';
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly documents = new Map<string, unknown>();

  constructor(initial: readonly AccountRecord[] = []) {
    for (const account of initial) this.accounts.set(accountKey(account.email), structuredClone(account));
  }

  async load(): Promise<AccountRecord[]> {
    return [...this.accounts.values()].map((a) => structuredClone(a));
  }

  async save(account: AccountRecord): Promise<void> {
    // A copy, so that later mutations by the caller are not "persisted" without a save().
    this.accounts.set(accountKey(account.email), structuredClone(account));
  }

  async remove(email: string): Promise<void> {
    this.accounts.delete(accountKey(email));
  }

  async loadDocument(name: string): Promise<unknown> {
    assertDocumentName(name);
    return structuredClone(this.documents.get(name));
  }

  async saveDocument(name: string, value: unknown): Promise<void> {
    assertDocumentName(name);
    // Through JSON, as the other stores keep it.
    this.documents.set(name, JSON.parse(JSON.stringify(value)));
  }
}
