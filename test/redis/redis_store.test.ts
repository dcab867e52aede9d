import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../src/store/redis/open-redis-store.js';
import type { RedisTokenStore, RemoteAccountChange } from '../../src/store/redis/redis-store.js';
import { StoreError } from '../../src/store/token-store.js';
import { redisStoreSettings, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { account } from '../store/accounts.js';

const encryption_key = randomBytes(32).toString('base64');

describe('RedisTokenStore (real redis-server)', () => {
  let redis: RedisServer;
  let prefix: string;
  const opened: RedisTokenStore[] = [];
  const open = async (overrides: Record<string, unknown> = {}) => {
    const { store } = await openRedisStore({ ...redisStoreSettings(redis, prefix, encryption_key), ...overrides });
    opened.push(store);
    return store;
  };
  const changesOf = (store: RedisTokenStore) => {
    const seen: RemoteAccountChange[] = [];
    store.onRemoteChange((c) => seen.push(c));
    return seen;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  afterAll(() => redis.close());
  let n = 0;
  const fresh = () => (prefix = `t${++n}:`);

  it('what one instance saves, another loads, and is told about', async () => {
    fresh();
    const [a, b] = [await open(), await open()];
    const seenByB = changesOf(b);
    const alice = account('Alice@example.com', { usage_count: 2 });
    await a.save(alice);
    expect(await b.load()).toEqual([alice]);
    await expect.poll(() => seenByB, { timeout: 1000 }).toEqual([{ type: 'upsert', record: alice }]);
    await a.remove('alice@example.com');
    await expect.poll(() => seenByB.at(-1), { timeout: 1000 }).toEqual({ type: 'removed', email: 'alice@example.com' });
    expect(await b.load()).toEqual([]);
  });

  it('a write judged on old tokens does not put them back over a newer refresh; usage adds up', async () => {
    fresh();
    const [a, b] = [await open(), await open()];
    const t0 = account('race@example.com', { refresh_token: 'rt-0', access_token: 'at-0' });
    await a.save(t0);
    await b.load();
    // A refreshes; B has not heard yet and stores a status change and two uses on the old tokens.
    await a.save({ ...t0, refresh_token: 'rt-1', access_token: 'at-1' });
    const seenByB = changesOf(b);
    await b.save({ ...t0, verdict: { state: 'needs_login', reason: 'refresh refused', at: 1 }, usage_count: 2, last_used: 1234 });
    const [stored] = await (await open()).load();
    expect(stored).toMatchObject({ refresh_token: 'rt-1', access_token: 'at-1', verdict: null, usage_count: 2, last_used: 1234 });
    // B was handed the record with the new tokens.
    await expect.poll(() => seenByB.map((c) => c.type === 'upsert' && c.record.refresh_token), { timeout: 1000 }).toContain('rt-1');
    // Usage from both instances adds up instead of overwriting.
    await a.save({ ...t0, refresh_token: 'rt-1', access_token: 'at-1', usage_count: 3 });
    expect((await (await open()).load())[0]!.usage_count).toBe(5);
  });

  it('a pending login started on one instance is finished on another, once', async () => {
    fresh();
    const [a, b] = [await open(), await open()];
    await a.shared.savePendingLogin('state-1', { verifier: 'pkce-verifier-secret', state: 'state-1' }, 60_000);
    expect(await b.shared.takePendingLogin('state-1')).toEqual({ verifier: 'pkce-verifier-secret', state: 'state-1' });
    expect(await a.shared.takePendingLogin('state-1')).toBeNull();
  });

  it('documents are sealed and shared', async () => {
    fresh();
    const [a, b] = [await open(), await open()];
    await a.saveDocument('client_keys', { keys: [{ id: 'k1', hash: 'h' }] });
    expect(await b.loadDocument('client_keys')).toEqual({ keys: [{ id: 'k1', hash: 'h' }] });
    expect(await b.loadDocument('nothing')).toBeUndefined();
  });

  it('benches and pins expire with their TTL', async () => {
    fresh();
    const [a, b] = [await open(), await open()];
    const now = Date.now();
    await a.shared.saveBench('x@example.com', { until: now + 60_000, reason: '429' }, now);
    expect(await b.shared.loadBench('x@example.com')).toEqual({ until: now + 60_000, reason: '429' });
    expect([...(await b.shared.loadBenches()).keys()]).toEqual(['x@example.com']);
    expect(await a.feed.next(() => true, 0)).toBe(false);
    await a.shared.savePin('session-1', 'x@example.com', 60_000);
    expect(await b.shared.loadPins()).toEqual([{ session: 'session-1', email: 'x@example.com' }]);
    const client = b.connection.client;
    const ttl = await client.pttl(`${prefix}bench:x@example.com`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('no token appears in any key or value', async () => {
    fresh();
    const a = await open();
    await a.save(account('sealed@example.com', { access_token: 'sk-ant-oat01-SEALEDACCESS', refresh_token: 'sk-ant-ort01-SEALEDREFRESH' }));
    await a.shared.savePendingLogin('st', { verifier: 'VERIFIERSECRET' }, 60_000);
    const client = a.connection.client;
    const keys = await client.keys(`${prefix}*`);
    expect(keys.length).toBe(3);
    for (const key of keys) {
      const dump = (await client.dumpBuffer(key))!.toString('latin1');
      for (const secret of ['SEALEDACCESS', 'SEALEDREFRESH', 'VERIFIERSECRET']) {
        expect(key).not.toContain(secret);
        expect(dump).not.toContain(secret);
      }
    }
  });

  it('with a wrong key the pool does not load, and says why', async () => {
    fresh();
    await (await open()).save(account('k@example.com'));
    const other = await open({ encryption_key: randomBytes(32).toString('hex') });
    const err = (await other.load().catch((e: unknown) => e)) as StoreError;
    expect(err).toBeInstanceOf(StoreError);
    expect(err.message).toMatch(new RegExp(`^Redis key ${prefix}account:k@example.com was encrypted under another key`));
  });

  it('after a Redis restart that lost the data, instances write back what they hold; logouts made meanwhile stay', async () => {
    fresh();
    const [a, b] = [await open(), await open()];
    await a.save(account('kept@example.com'));
    await a.save(account('gone@example.com'));
    await b.load();
    const seenByB = changesOf(b);
    await redis.restart(); // --save '' : it comes back empty
    await expect.poll(() => a.state, { timeout: 5000 }).toBe('connected');
    await expect.poll(() => b.state, { timeout: 5000 }).toBe('connected');
    await expect
      .poll(async () => (await (await open()).load()).map((r) => r.email).sort(), { timeout: 5000 })
      .toEqual(['gone@example.com', 'kept@example.com']);
    expect(seenByB.filter((c) => c.type === 'removed')).toEqual([]);

    // An instance that missed a logout (its message lost while it was cut off) does not restore it.
    const c = await open();
    await c.load();
    await c.connection.subscriber.unsubscribe(c.feed.channel);
    await a.remove('gone@example.com');
    const seenByC = changesOf(c);
    await c.resync();
    expect(seenByC.filter((x) => x.type === 'removed')).toEqual([{ type: 'removed', email: 'gone@example.com' }]);
    expect((await (await open()).load()).map((r) => r.email)).toEqual(['kept@example.com']);
  });
});
