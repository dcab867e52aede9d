import { accountRecordSchema, describeIssues, type AccountRecord } from '../account-record.js';
import { StoreError } from '../token-store.js';
import type { RedisConnection } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import type { TokenCipher } from './token-cipher.js';

/**
 * Writes one account. 'cas' writes only over the tokens the writer last saw (fp ARGV[2]): a
 * status or usage write from an instance that has not heard of a newer login or refresh yet must
 * not put old tokens back (it returns 0 and the writer re-reads). Usage is added as a delta and
 * last_used kept at its maximum, so instances never overwrite each other's counts.
 */
const SAVE = `
local current = redis.call('HGET', KEYS[1], 'fp')
local written = 0
if ARGV[1] == 'force' or current == ARGV[2] then
  redis.call('HSET', KEYS[1], 'v', ARGV[4], 'fp', ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[5])
  redis.call('DEL', KEYS[3])
  written = 1
elseif not current then
  return 0
end
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[1], 'usage_count', ARGV[6]) end
local used = tonumber(ARGV[7])
if used > 0 and used > tonumber(redis.call('HGET', KEYS[1], 'last_used') or '0') then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[7])
end
return written`;

/** How long a logout is remembered for instances that were cut off when it happened. */
const TOMBSTONE_SECONDS = 30 * 24 * 3600;

interface Known {
  fp: string;
  /** The record as last read or written, to restore it if Redis comes back without it. */
  record: AccountRecord;
  /** usage_count as last synced with Redis: what is above it locally is not in Redis yet. */
  usage: number;
}

/**
 * The account records in Redis (one hash each, tokens sealed) and what this instance last saw of
 * each, so that a write is judged against the tokens it was made with and usage goes in as deltas.
 */
export class RedisAccountRecords {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly cipher: TokenCipher,
    /** Where the records are, for error messages. */
    private readonly location: string,
  ) {}

  async loadAll(): Promise<AccountRecord[]> {
    const members = await this.connection.client.smembers(this.keys.accounts);
    const records: AccountRecord[] = [];
    for (const key of members.sort()) {
      const record = await this.read(key);
      if (record) records.push(record);
    }
    return records;
  }

  async read(key: string): Promise<AccountRecord | null> {
    const redisKey = this.keys.account(key);
    const fields = await this.connection.client.hgetall(redisKey);
    if (!fields.v) {
      this.known.delete(key);
      return null;
    }
    let data: unknown;
    try {
      data = JSON.parse(this.cipher.open(fields.v, redisKey));
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('corrupt', `Redis key ${redisKey} does not hold an account record (not JSON)`);
    }
    const usage = Number(fields.usage_count ?? 0);
    const lastUsed = fields.last_used ? Number(fields.last_used) : null;
    const parsed = accountRecordSchema.safeParse({ ...(data as object), usage_count: usage, last_used: lastUsed });
    if (!parsed.success) throw new StoreError('corrupt', `Redis key ${redisKey} is corrupt: ${describeIssues(parsed.error)}`);
    this.known.set(key, { fp: fields.fp ?? '', usage, record: structuredClone(parsed.data) });
    return parsed.data;
  }

  /** False when Redis holds newer tokens than the ones this write was judged with: re-read it. */
  async write(key: string, account: AccountRecord): Promise<boolean> {
    const redisKey = this.keys.account(key);
    const { usage_count, last_used, ...sealedPart } = account;
    const fp = this.tokenFingerprint(account);
    const known = this.known.get(key);
    // New tokens (a login, or a refresh under the refresh lock) win; anything else is written over
    // the tokens it was judged with only.
    const mode = !known || known.fp !== fp ? 'force' : 'cas';
    const delta = Math.max(0, usage_count - (known?.usage ?? 0));
    let written: unknown;
    try {
      written = await this.connection.client.eval(
        SAVE,
        3,
        redisKey,
        this.keys.accounts,
        this.keys.removed(key),
        mode,
        known?.fp ?? '',
        fp,
        this.cipher.seal(JSON.stringify(sealedPart), redisKey),
        key,
        String(delta),
        String(last_used ?? 0),
      );
    } catch (err) {
      throw new StoreError('write_failed', `could not write account ${key} to ${this.location}: ${(err as Error).message}`);
    }
    if (written === 1) {
      this.known.set(key, { fp, usage: usage_count, record: structuredClone(account) });
      return true;
    }
    if (known) known.usage = usage_count;
    return false;
  }

  /** Deletes the record and leaves a tombstone for instances that miss the announcement. */
  async remove(key: string): Promise<void> {
    try {
      await this.connection.client
        .multi()
        .del(this.keys.account(key))
        .srem(this.keys.accounts, key)
        .set(this.keys.removed(key), '1', 'EX', TOMBSTONE_SECONDS)
        .exec();
    } catch (err) {
      throw new StoreError('write_failed', `could not remove account ${key} from ${this.location}: ${(err as Error).message}`);
    }
    this.known.delete(key);
  }

  async wasRemoved(key: string): Promise<boolean> {
    return (await this.connection.client.exists(this.keys.removed(key))) > 0;
  }

  forget(key: string): void {
    this.known.delete(key);
  }

  /** Every record this instance holds, as last read or written. */
  lastSeen(): Map<string, AccountRecord> {
    return new Map([...this.known].map(([key, known]) => [key, known.record]));
  }

  private tokenFingerprint(account: AccountRecord): string {
    return this.cipher.fingerprint(`${account.access_token}\0${account.refresh_token ?? ''}`);
  }
}
