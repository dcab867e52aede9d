import type { AccountRecord } from '../oauth/account.js';

export type TokenStoreKind = 'keyring' | 'file' | 'memory';

/**
 * Where the account pool is persisted. Every write must be durable when its promise resolves:
 * the pool calls save() with a rotated refresh token before it uses the new access token.
 */
export interface TokenStore {
  readonly kind: TokenStoreKind;
  /** Human-readable location for logs, e.g. 'keyring service "claude-code-balancer"' or a file path. */
  readonly location: string;
  /** All stored accounts. Throws StoreError when the store cannot be read (locked keyring, corrupt file). */
  load(): Promise<AccountRecord[]>;
  /** Insert or replace one account (keyed case-insensitively by email). */
  save(account: AccountRecord): Promise<void>;
  /** Remove one account; removing an unknown email is not an error. */
  remove(email: string): Promise<void>;
}

export type StoreErrorCode = 'locked' | 'unavailable' | 'corrupt' | 'write_failed';

/** A store failure with a message a user can act on (what failed, where, and what to do). */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
