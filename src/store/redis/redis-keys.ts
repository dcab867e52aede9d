import { createHash } from 'node:crypto';

/** Every key the Redis store uses, under settings.oauth.redis_prefix. */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The set of account keys (emails, lowercased). */
  get accounts(): string {
    return `${this.prefix}accounts`;
  }
  /** Hash: v (the sealed record), fp (token fingerprint), usage_count, last_used. */
  account(accountKey: string): string {
    return `${this.prefix}account:${accountKey}`;
  }
  /** Left by a logout, so that an instance that missed it does not take the account for lost data and restore it. */
  removed(accountKey: string): string {
    return `${this.prefix}removed:${accountKey}`;
  }
  get changes(): string {
    return `${this.prefix}changes`;
  }
  /** A pending login, by a hash of its state (expires with the login). */
  login(state: string): string {
    return `${this.prefix}login:${digest(state)}`;
  }
  /** An account's rate-limit bench (expires when the bench ends). */
  bench(accountKey: string): string {
    return `${this.prefix}bench:${accountKey}`;
  }
  benchPattern(): string {
    return `${this.prefix}bench:*`;
  }
  /** A session's pinned account, by a hash of the session id (expires with the pin). */
  pin(session: string): string {
    return `${this.prefix}pin:${digest(session)}`;
  }
  pinPattern(): string {
    return `${this.prefix}pin:*`;
  }
  document(name: string): string {
    return `${this.prefix}doc:${name}`;
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}
