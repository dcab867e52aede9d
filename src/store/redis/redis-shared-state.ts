import { assertDocumentName, StoreError } from '../token-store.js';
import type { ChangeFeed } from './change-feed.js';
import type { RedisConnection } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import type { TokenCipher } from './token-cipher.js';

/** Writes ARGV[2] to KEYS[1] only if it still holds ARGV[1] ('' for absent). */
const SET_IF_UNCHANGED = `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;
const DOCUMENT_CAS_ATTEMPTS = 8;

/** A rate-limit bench as instances share it: the account is not used before `until` (epoch ms). */
export interface SharedBench {
  until: number;
  reason: string;
}

/**
 * The pool's state that is not an account record but must be the same on every instance: pending
 * logins (started on one, finished on another), rate-limit benches and session pins, each with
 * its TTL in Redis, and named documents. Secrets (a login's PKCE verifier, documents) are sealed.
 */
export class RedisSharedState {
  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly cipher: TokenCipher,
    private readonly feed: ChangeFeed,
  ) {}

  private get client() {
    return this.connection.client;
  }

  async savePendingLogin(state: string, login: unknown, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    const key = this.keys.login(state);
    await this.client.set(key, this.cipher.seal(JSON.stringify(login), key), 'PX', Math.ceil(ttlMs));
  }

  /** The pending login for `state`, removed in the same step so that it is finished once only. */
  async takePendingLogin(state: string): Promise<unknown> {
    const key = this.keys.login(state);
    const sealed = await this.client.getdel(key);
    return sealed === null ? null : JSON.parse(this.cipher.open(sealed, key));
  }

  async saveBench(accountKey: string, bench: SharedBench, now = Date.now()): Promise<void> {
    const ttl = bench.until - now;
    if (ttl <= 0) return;
    await this.client.set(this.keys.bench(accountKey), JSON.stringify(bench), 'PX', Math.ceil(ttl));
    await this.feed.publish({ kind: 'bench', key: accountKey });
  }

  async loadBench(accountKey: string): Promise<SharedBench | null> {
    const text = await this.client.get(this.keys.bench(accountKey));
    return text ? (JSON.parse(text) as SharedBench) : null;
  }

  /** Every bench still in force, by account key. */
  async loadBenches(): Promise<Map<string, SharedBench>> {
    const benches = new Map<string, SharedBench>();
    const prefix = this.keys.bench('');
    for await (const batch of this.client.scanStream({ match: this.keys.benchPattern(), count: 100 })) {
      const keys = batch as string[];
      if (keys.length === 0) continue;
      const texts = await this.client.mget(...keys);
      keys.forEach((key, i) => {
        if (texts[i]) benches.set(key.slice(prefix.length), JSON.parse(texts[i]!) as SharedBench);
      });
    }
    return benches;
  }

  async savePin(session: string, accountKey: string, ttlMs: number): Promise<void> {
    await this.client.set(this.keys.pin(session), JSON.stringify({ session, account: accountKey }), 'PX', Math.ceil(ttlMs));
    await this.feed.publish({ kind: 'pin', key: accountKey, session });
  }

  /** Every pin still in force. */
  async loadPins(): Promise<Array<{ session: string; email: string }>> {
    const pins: Array<{ session: string; email: string }> = [];
    for await (const batch of this.client.scanStream({ match: this.keys.pinPattern(), count: 500 })) {
      if ((batch as string[]).length === 0) continue;
      for (const text of await this.client.mget(...(batch as string[]))) {
        if (!text) continue;
        const pin = JSON.parse(text) as { session?: unknown; account?: unknown };
        if (typeof pin.session === 'string' && typeof pin.account === 'string') pins.push({ session: pin.session, email: pin.account });
      }
    }
    return pins;
  }

  /** undefined when never saved, as every store answers. */
  async loadDocument(name: string): Promise<unknown> {
    assertDocumentName(name);
    const key = this.keys.document(name);
    const sealed = await this.client.get(key);
    return sealed === null ? undefined : this.open(sealed, key);
  }

  async saveDocument(name: string, value: unknown): Promise<void> {
    assertDocumentName(name);
    const key = this.keys.document(name);
    try {
      await this.client.set(key, this.cipher.seal(JSON.stringify(value), key));
    } catch (err) {
      throw new StoreError('write_failed', `could not write ${key} to Redis: ${(err as Error).message}`);
    }
    await this.feed.publish({ kind: 'document', key: name });
  }

  /**
   * Compare-and-set on the sealed text read (a script, not WATCH: WATCH is per connection and the
   * client is shared, so another caller's EXEC would silently drop it). Retried when another
   * instance wrote in between.
   */
  async updateDocument(name: string, update: (current: unknown) => unknown): Promise<unknown> {
    assertDocumentName(name);
    const key = this.keys.document(name);
    for (let attempt = 0; attempt < DOCUMENT_CAS_ATTEMPTS; attempt++) {
      const sealed = await this.client.get(key);
      const value = update(sealed === null ? undefined : this.open(sealed, key));
      let written: unknown;
      try {
        written = await this.client.eval(SET_IF_UNCHANGED, 1, key, sealed ?? '', this.cipher.seal(JSON.stringify(value), key));
      } catch (err) {
        throw new StoreError('write_failed', `could not write ${key} to Redis: ${(err as Error).message}`);
      }
      if (written === 1) {
        await this.feed.publish({ kind: 'document', key: name });
        return value;
      }
    }
    throw new StoreError('write_failed', `could not write ${key} to Redis: it kept changing under ${DOCUMENT_CAS_ATTEMPTS} attempts`);
  }

  private open(sealed: string, key: string): unknown {
    try {
      return JSON.parse(this.cipher.open(sealed, key));
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('corrupt', `Redis key ${key} does not hold a JSON document`);
    }
  }
}
