import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { OAuthSettings } from '../../config/schema.js';
import { parseEncryptionKey } from '../../config/encryption-key.js';
import { StoreError } from '../token-store.js';
import { RedisConnection } from './redis-connection.js';
import { RedisTokenStore } from './redis-store.js';
import { TokenCipher } from './token-cipher.js';

export type RedisStoreSettings = Pick<
  OAuthSettings,
  'redis_url' | 'redis_prefix' | 'encryption_key' | 'allow_plaintext_redis' | 'redis_lock_ttl_ms' | 'token_timeout_ms'
>;

/** settings.oauth.store: redis. Throws StoreError when Redis cannot be reached or the settings do not allow it. */
export async function openRedisStore(
  settings: RedisStoreSettings,
  log?: Pick<Logger, 'info' | 'warn' | 'error'>,
): Promise<{ store: RedisTokenStore; reason: string }> {
  if (!settings.redis_url) throw new StoreError('unavailable', 'store: redis needs settings.oauth.redis_url');
  const key = settings.encryption_key ? parseEncryptionKey(settings.encryption_key) : null;
  if (!key && !settings.allow_plaintext_redis) {
    throw new StoreError(
      'unavailable',
      'store: redis needs settings.oauth.encryption_key (32 bytes, base64 or hex), or allow_plaintext_redis: true',
    );
  }
  const cipher = key ? TokenCipher.withKey(key, settings.allow_plaintext_redis) : TokenCipher.plaintext();
  const connection = await RedisConnection.open(settings.redis_url, { log });
  try {
    const store = await RedisTokenStore.open({
      connection,
      cipher,
      prefix: settings.redis_prefix,
      instanceId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      lockTtlMs: settings.redis_lock_ttl_ms,
      // A live holder may wait for the token endpoint up to its timeout.
      lockWaitMs: settings.redis_lock_ttl_ms + settings.token_timeout_ms,
      log,
    });
    const sealing = key ? `tokens encrypted (key id ${cipher.keyId})` : 'tokens NOT encrypted (allow_plaintext_redis)';
    return { store, reason: `store: redis; shared pool at ${store.location}, ${sealing}` };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
