import type { AccountRecord } from './account-record.js';

export type TokenStoreKind = 'keyring' | 'file' | 'memory' | 'redis';

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
  /**
   * Named documents: small JSON values other parts of the service keep next to the accounts
   * (e.g. "client_keys"), each read and replaced as a whole. undefined when never saved. Throws
   * StoreError like load(). Names are short identifiers ([a-z0-9_]); the store does not look
   * inside the value, its owner validates it.
   */
  loadDocument(name: string): Promise<unknown>;
  /** Replaces a named document with a JSON-serializable value; durable when the promise resolves. */
  saveDocument(name: string, value: unknown): Promise<void>;
  /**
   * Read-modify-write of a named document that no other writer can interleave with (a shared
   * store retries on a concurrent write); returns the value written. Absent: load then save.
   */
  updateDocument?(name: string, update: (current: unknown) => unknown): Promise<unknown>;
  /** For /health: 'connected' / 'disconnected' for Redis (served from memory meanwhile); absent: always ok. */
  readonly state?: string;
  /** After the last write: lets go of what the store holds (its single-writer lock, connections). */
  close?(): Promise<void>;
}

/** Document names are used as keys in files and keyring attributes: keep them plain. */
export function assertDocumentName(name: string): void {
  if (!/^[a-z0-9_]{1,64}$/.test(name)) throw new Error(`invalid store document name ${JSON.stringify(name)}`);
}

/** A read-modify-write of a named document: atomic where the store offers it, else load then save (single-writer stores). */
export async function updateDocument(store: TokenStore, name: string, update: (current: unknown) => unknown): Promise<unknown> {
  if (store.updateDocument) return store.updateDocument(name, update);
  const value = update(await store.loadDocument(name));
  await store.saveDocument(name, value);
  return value;
}

/** An account change another instance made, as a shared store hands it over. */
export type RemoteChange =
  | { type: 'upsert'; record: AccountRecord }
  | { type: 'removed'; email: string }
  | { type: 'bench'; email: string; until: number; reason: string }
  | { type: 'pin'; session: string; email: string }
  /** A named document was replaced on another instance (or may have been, while cut off). */
  | { type: 'document'; name: string };

/**
 * A store several instances share (Redis). Besides the records it carries what the pool must
 * agree on across instances: who may refresh an account, pending logins and rate-limit benches.
 */
export interface SharedTokenStore extends TokenStore {
  /** One refresh right per account across all instances. */
  readonly refreshLock: { acquire(key: string): Promise<{ release(): Promise<void> }> };
  /** The account as the shared store has it now. */
  reload(email: string): Promise<AccountRecord | null>;
  onRemoteChange(listener: (change: RemoteChange) => void): () => void;
  savePendingLogin(state: string, login: unknown, ttlMs: number): Promise<void>;
  takePendingLogin(state: string): Promise<unknown>;
  shareBench(email: string, until: number, reason: string): Promise<void>;
  loadBenches(): Promise<Array<{ email: string; until: number; reason: string }>>;
  sharePin(session: string, email: string, ttlMs: number): Promise<void>;
  loadPins(): Promise<Array<{ session: string; email: string }>>;
}

export function isSharedStore(store: TokenStore): store is SharedTokenStore {
  return typeof (store as Partial<SharedTokenStore>).onRemoteChange === 'function';
}

export type StoreErrorCode = 'locked' | 'unavailable' | 'corrupt' | 'write_failed' | 'in_use';

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
