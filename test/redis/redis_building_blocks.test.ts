import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed, type StoreChange } from '../../src/store/redis/change-feed.js';
import { RedisConnection, redactRedisUrl } from '../../src/store/redis/redis-connection.js';
import { RedisRefreshLock } from '../../src/store/redis/redis-refresh-lock.js';
import { TokenCipher, parseEncryptionKey } from '../../src/store/redis/token-cipher.js';
import { StoreError } from '../../src/store/token-store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const key = randomBytes(32);

describe('TokenCipher (AES-256-GCM)', () => {
  const cipher = TokenCipher.withKey(key);

  it('seals with a fresh IV every time and opens what it sealed', () => {
    const a = cipher.seal('sk-ant-ort01-secret', 'ccb:account:a');
    const b = cipher.seal('sk-ant-ort01-secret', 'ccb:account:a');
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret');
    expect(a.startsWith(`ccb1.${cipher.keyId}.`)).toBe(true);
    expect(cipher.open(a, 'ccb:account:a')).toBe('sk-ant-ort01-secret');
  });

  it('refuses a value that was altered, moved to another key, or sealed under another key', () => {
    const sealed = cipher.seal('{"refresh_token":"x"}', 'ccb:account:a');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[4]!, 'base64url');
    body[0]! ^= 1;
    const altered = [...parts.slice(0, 4), body.toString('base64url')].join('.');
    expect(() => cipher.open(altered, 'ccb:account:a')).toThrow(/failed authentication/);
    expect(() => cipher.open(sealed, 'ccb:account:b')).toThrow(/failed authentication/);
    const other = TokenCipher.withKey(randomBytes(32));
    expect(() => other.open(sealed, 'ccb:account:a')).toThrow(
      `was encrypted under another key (key id ${cipher.keyId}; settings.oauth.encryption_key has id ${other.keyId})`,
    );
    expect(() => TokenCipher.plaintext().open(sealed, 'ccb:account:a')).toThrow(/no settings.oauth.encryption_key/);
  });

  it('with a key, refuses unencrypted values unless allow_plaintext_redis says to read them', () => {
    const plain = TokenCipher.plaintext().seal('{"a":1}', 'k');
    expect(plain).toBe('plain.{"a":1}');
    expect(() => cipher.open(plain, 'k')).toThrow(StoreError);
    expect(TokenCipher.withKey(key, true).open(plain, 'k')).toBe('{"a":1}');
  });

  it('takes a 32-byte key as hex or base64, nothing else', () => {
    expect(parseEncryptionKey(key.toString('hex'))).toEqual(key);
    expect(parseEncryptionKey(key.toString('base64'))).toEqual(key);
    expect(parseEncryptionKey(key.toString('base64url'))).toEqual(key);
    expect(parseEncryptionKey(randomBytes(16).toString('base64'))).toBeNull();
    expect(parseEncryptionKey('correct horse battery staple')).toBeNull();
  });
});

describe('Redis connection, lock and change feed (real redis-server)', () => {
  let redis: RedisServer;
  const open: RedisConnection[] = [];
  const connect = async () => {
    const c = await RedisConnection.open(redis.url);
    open.push(c);
    return c;
  };
  const feedOn = async (c: RedisConnection, id: string) => {
    const feed = new ChangeFeed(c, 'ccbtest:changes', id);
    await feed.start();
    return feed;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });
  afterAll(() => redis.close());

  it('Redis down at startup: the error names the URL without its password, and the cause', async () => {
    const down = await startRedisServer();
    const url = `redis://:hunter2-secret@127.0.0.1:${down.port}/0`;
    await down.close();
    const err = await RedisConnection.open(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toBe(
      `cannot reach Redis at redis://:***@127.0.0.1:${down.port}/0 (settings.oauth.redis_url): connect ECONNREFUSED 127.0.0.1:${down.port}`,
    );
    expect(redactRedisUrl('rediss://user:pw@h:6380/2')).toBe('rediss://user:***@h:6380/2');
  });

  it('a wrong password at startup is an error that names the URL', async () => {
    const guarded = await startRedisServer({ password: 'right-password' });
    try {
      const err = (await RedisConnection.open(`redis://:wrong-password@127.0.0.1:${guarded.port}`).catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(`cannot reach Redis at redis://:***@127.0.0.1:${guarded.port}`);
      expect(err.message).toMatch(/WRONGPASS|invalid password|invalid username-password/i);
      expect(err.message).not.toContain('wrong-password');
      const ok = await RedisConnection.open(guarded.url);
      await ok.close();
    } finally {
      await guarded.close();
    }
  });

  it('the feed delivers another instance’s changes, not one’s own', async () => {
    const [a, b] = [await connect(), await connect()];
    const [feedA, feedB] = [await feedOn(a, 'A'), await feedOn(b, 'B')];
    const seenA: StoreChange[] = [];
    feedA.on((c) => seenA.push(c));
    const atB = feedB.next((c) => c.kind === 'account' && c.key === 'x@example.com', 1000);
    await feedA.publish({ kind: 'account', key: 'x@example.com' });
    expect(await atB).toBe(true);
    await feedB.publish({ kind: 'removed', key: 'y@example.com' });
    await expect.poll(() => seenA, { timeout: 1000 }).toEqual([{ kind: 'removed', key: 'y@example.com' }]);
  });

  it('one refresh right per account across instances; the next holder gets it when the first lets go', async () => {
    const [a, b] = [await connect(), await connect()];
    const lockA = new RedisRefreshLock(a, await feedOn(a, 'A'), 'ccbtest:', { ttlMs: 10_000, waitMs: 10_000 });
    const lockB = new RedisRefreshLock(b, await feedOn(b, 'B'), 'ccbtest:', { ttlMs: 10_000, waitMs: 10_000 });
    const order: string[] = [];
    const held = await lockA.acquire('one@example.com');
    const other = await lockB.acquire('two@example.com'); // another account is independent
    const waiting = lockB.acquire('one@example.com').then((r) => {
      order.push('B got it');
      return r;
    });
    // A wait that B would have won by now if the lock let it through.
    await new Promise((r) => setTimeout(r, 300));
    order.push('A releases');
    await held.release();
    const second = await waiting;
    expect(order).toEqual(['A releases', 'B got it']);
    expect(await a.client.get('ccbtest:lock:refresh:one@example.com')).toBe(second.owner);
    await second.release();
    await other.release();
    expect(await a.client.exists('ccbtest:lock:refresh:one@example.com', 'ccbtest:lock:refresh:two@example.com')).toBe(0);
  });

  it('only the owner releases: a lock that expired and was taken by another stays the other’s', async () => {
    const a = await connect();
    const lock = new RedisRefreshLock(a, await feedOn(a, 'A'), 'ccbtest:', { ttlMs: 10_000, waitMs: 10_000 });
    const right = await lock.acquire('own@example.com');
    // As if the lock had expired and another instance had taken it.
    await a.client.set('ccbtest:lock:refresh:own@example.com', 'someone-else', 'PX', 10_000);
    await right.release();
    expect(await a.client.get('ccbtest:lock:refresh:own@example.com')).toBe('someone-else');
  });

  it('a holder that died (no release, no extension) loses the lock at its expiry; a live holder keeps it by extending', async () => {
    const a = await connect();
    const lock = new RedisRefreshLock(a, await feedOn(a, 'A'), 'ccbtest:', { ttlMs: 1500, waitMs: 10_000 });
    // A dead holder: a lock set with a 400 ms expiry that nobody extends.
    await a.client.set('ccbtest:lock:refresh:dead@example.com', 'dead-owner', 'PX', 400);
    const right = await lock.acquire('dead@example.com');
    expect(await a.client.get('ccbtest:lock:refresh:dead@example.com')).toBe(right.owner);

    // Held across several ttls: the extension keeps it.
    const b = await connect();
    const other = new RedisRefreshLock(b, await feedOn(b, 'B'), 'ccbtest:', { ttlMs: 300, waitMs: 10_000 });
    let taken = false;
    const waiting = other.acquire('dead@example.com').then((r) => {
      taken = true;
      return r;
    });
    // Held for three times its ttl (the holder extends every ttl/3; the ttl is long enough that a busy machine does not miss one).
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      expect(taken).toBe(false);
      expect(await a.client.get('ccbtest:lock:refresh:dead@example.com')).toBe(right.owner);
    }
    await right.release();
    await (await waiting).release();
  });

  it('reconnect hooks run when Redis comes back, and acquire() waits for it', async () => {
    const own = await startRedisServer();
    try {
      const c = await RedisConnection.open(own.url);
      open.push(c);
      const lock = new RedisRefreshLock(c, await feedOn(c, 'A'), 'ccbtest:', { ttlMs: 5000, waitMs: 15_000 });
      let resynced = 0;
      c.onReconnect(() => resynced++);
      await own.stop();
      await expect.poll(() => c.state, { timeout: 5000 }).toBe('disconnected');
      const acquiring = lock.acquire('wait@example.com');
      await own.restart();
      const right = await acquiring;
      expect(c.state).toBe('connected');
      expect(resynced).toBe(1);
      await right.release();
    } finally {
      await own.close();
    }
  });

  it('acquire() gives up when Redis stays away', async () => {
    const own = await startRedisServer();
    try {
      const c = await RedisConnection.open(own.url);
      open.push(c);
      const lock = new RedisRefreshLock(c, await feedOn(c, 'A'), 'ccbtest:', { ttlMs: 5000, waitMs: 300 });
      await own.stop();
      await expect.poll(() => c.state, { timeout: 5000 }).toBe('disconnected');
      await expect(lock.acquire('gone@example.com')).rejects.toThrow(/unreachable|could not take the refresh lock/);
    } finally {
      await own.close();
    }
  });
});
