import type { Logger } from 'pino';
import type { OAuthSettings } from '../config/schema.js';
import { FileTokenStore, resolveAccountsFilePath } from './file-store.js';
import { KeyringTokenStore, keyringLockPath, probeSecretService } from './keyring-store.js';
import { MemoryTokenStore } from './memory-store.js';
import { openRedisStore, type RedisStoreSettings } from './redis/open-redis-store.js';
import { StoreLock } from './store-lock.js';
import type { TokenStore } from './token-store.js';

export type StoreSettings = Pick<OAuthSettings, 'enable_persistence' | 'service_name' | 'store' | 'file_path'> &
  Partial<RedisStoreSettings>;

export interface CreateTokenStoreOptions {
  /** For the file path (XDG_DATA_HOME, HOME). keytar always uses process.env to find the D-Bus. */
  env?: NodeJS.ProcessEnv;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How long `store: auto` waits for the Secret Service before using the file. */
  probeTimeoutMs?: number;
  /** How long `store: keyring` waits for the Secret Service before giving up. */
  keyringTimeoutMs?: number;
}

/**
 * The store settings.oauth asks for. `auto` uses the keyring when a Secret Service answers, else
 * the file; but a reachable, locked keyring is an error, not a reason to fall back: the accounts
 * in it would silently vanish from the pool. Throws StoreError when the chosen store cannot work.
 */
export async function createTokenStore(
  settings: StoreSettings,
  opts: CreateTokenStoreOptions = {},
): Promise<{ store: TokenStore; reason: string }> {
  const { env = process.env, log, probeTimeoutMs = 2000, keyringTimeoutMs = 10_000 } = opts;
  const chosen = await choose(settings, env, probeTimeoutMs, keyringTimeoutMs, log);
  const fellBack = settings.enable_persistence && settings.store === 'auto' && chosen.store.kind === 'file';
  log?.[fellBack ? 'warn' : 'info']({ store: chosen.store.kind, location: chosen.store.location }, chosen.reason);
  return chosen;
}

async function choose(
  settings: StoreSettings,
  env: NodeJS.ProcessEnv,
  probeTimeoutMs: number,
  keyringTimeoutMs: number,
  log: CreateTokenStoreOptions['log'],
): Promise<{ store: TokenStore; reason: string }> {
  if (!settings.enable_persistence) {
    return { store: new MemoryTokenStore(), reason: 'persistence disabled: accounts are kept in memory only' };
  }
  // A file or keyring store has one writer: the lock is taken before the store is used.
  const fileStore = async () => {
    const path = resolveAccountsFilePath(settings.file_path, env);
    return new FileTokenStore(path, await StoreLock.acquire(`${path}.lock`, `account file ${path}`));
  };
  const keyringStore = async () => {
    const lock = await StoreLock.acquire(
      keyringLockPath(settings.service_name, env),
      `keyring service "${settings.service_name}"`,
    );
    return new KeyringTokenStore(settings.service_name, undefined, lock);
  };
  switch (settings.store) {
    case 'redis':
      return openRedisStore(
        {
          redis_url: settings.redis_url,
          redis_prefix: settings.redis_prefix ?? 'ccb:',
          encryption_key: settings.encryption_key,
          allow_plaintext_redis: settings.allow_plaintext_redis ?? false,
          redis_lock_ttl_ms: settings.redis_lock_ttl_ms ?? 15_000,
          token_timeout_ms: settings.token_timeout_ms ?? 30_000,
        },
        log,
      );
    case 'file': {
      const store = await fileStore();
      return { store, reason: `store: file; using file ${store.location}` };
    }
    case 'keyring': {
      const probe = await probeSecretService(keyringTimeoutMs, settings.service_name);
      if (!probe.ok) throw probe.error;
      const store = await keyringStore();
      return { store, reason: `store: keyring; using ${store.location}` };
    }
    case 'auto': {
      const probe = await probeSecretService(probeTimeoutMs, settings.service_name);
      if (probe.ok) {
        const store = await keyringStore();
        return { store, reason: `keyring available; using ${store.location}` };
      }
      if (probe.error.code === 'locked') throw probe.error;
      const store = await fileStore();
      return { store, reason: `keyring unavailable: ${probe.reason}; using file ${store.location}` };
    }
  }
}
