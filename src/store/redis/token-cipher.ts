import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { StoreError } from '../token-store.js';

export { parseEncryptionKey } from '../../config/encryption-key.js';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Format version of encrypted values: `ccb1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts). */
const VERSION = 'ccb1';
/** Values written without a key (allow_plaintext_redis): `plain.<text>`. */
const PLAIN = 'plain.';

/**
 * Seals the values the Redis store writes (AES-256-GCM, a random IV per value, authenticated).
 * The Redis key a value is stored under is its associated data, so a value copied to another
 * key (one account's tokens onto another) does not open. The key id names the key without
 * revealing it, so a value sealed under another key gets an error that says so.
 */
export class TokenCipher {
  readonly keyId: string | null;

  private constructor(
    private readonly key: Buffer | null,
    private readonly acceptPlaintext: boolean,
  ) {
    this.keyId = key ? createHash('sha256').update('ccb key id\0').update(key).digest('hex').slice(0, 8) : null;
  }

  /**
   * `acceptPlaintext` (allow_plaintext_redis together with a key): values written before the key
   * was set are still read, and sealed on their next write. Otherwise an unsealed value is refused:
   * whoever can write to Redis must not be able to plant an account.
   */
  static withKey(key: Buffer, acceptPlaintext = false): TokenCipher {
    if (key.length !== 32) throw new Error('an AES-256 key has 32 bytes');
    return new TokenCipher(key, acceptPlaintext);
  }

  /** Writes values as they are (settings.oauth.allow_plaintext_redis: true, no key). */
  static plaintext(): TokenCipher {
    return new TokenCipher(null, true);
  }

  /**
   * A short fingerprint of secret text (which tokens a record holds), so that writers can tell
   * whether tokens changed without a token in clear. Keyed, when there is a key: it cannot be
   * used to check a guessed token offline.
   */
  fingerprint(secret: string): string {
    const mac = this.key ? createHmac('sha256', this.key) : createHash('sha256');
    return mac.update('ccb fingerprint\0').update(secret).digest('base64url').slice(0, 22);
  }

  seal(plaintext: string, redisKey: string): string {
    if (!this.key) return PLAIN + plaintext;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(redisKey, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.keyId, b64(iv), b64(cipher.getAuthTag()), b64(body)].join('.');
  }

  /** The plaintext, or StoreError('corrupt') saying why the value does not open. */
  open(sealed: string, redisKey: string): string {
    if (sealed.startsWith(PLAIN)) {
      if (this.acceptPlaintext) return sealed.slice(PLAIN.length);
      throw new StoreError(
        'corrupt',
        `Redis key ${redisKey} holds an unencrypted value, and settings.oauth.encryption_key is set. To encrypt ` +
          'values written before the key, set settings.oauth.allow_plaintext_redis: true until they have been rewritten.',
      );
    }
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) {
      throw new StoreError('corrupt', `Redis key ${redisKey} does not hold a value this build wrote`);
    }
    const [, keyId, iv, tag, body] = parts as [string, string, string, string, string];
    if (!this.key) {
      throw new StoreError(
        'corrupt',
        `Redis key ${redisKey} is encrypted (key id ${keyId}) but no settings.oauth.encryption_key is configured`,
      );
    }
    if (keyId !== this.keyId) {
      throw new StoreError(
        'corrupt',
        `Redis key ${redisKey} was encrypted under another key (key id ${keyId}; settings.oauth.encryption_key has id ${this.keyId})`,
      );
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(redisKey, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new StoreError('corrupt', `Redis key ${redisKey} failed authentication: it was altered or moved from another key`);
    }
  }
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64url');
}
