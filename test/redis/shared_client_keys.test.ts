// Client keys created at run time, with two service instances on one real redis-server: a key
// created or removed on one counts on the other at once, and a last-use write never puts back a
// key removed elsewhere nor drops one created elsewhere.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KEYS_DOCUMENT, ClientKeys } from '../../src/access/client-keys.js';
import { openRedisStore } from '../../src/store/redis/open-redis-store.js';
import type { RedisTokenStore } from '../../src/store/redis/redis-store.js';
import type { TokenStore } from '../../src/store/token-store.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';
import { admin, fakeClock, MINUTE, postMessage } from '../support/pool.js';
import { redisStoreSettings, startRedisServer, type RedisServer } from '../support/redis-server.js';

const encryption_key = randomBytes(32).toString('base64');

describe('client keys shared through Redis', { timeout: 30_000 }, () => {
  let redis: RedisServer;
  let upstream: FakeAnthropic;
  let prefix = '';
  let n = 0;
  const services: RunningService[] = [];
  const stores: RedisTokenStore[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startFakeAnthropic();
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close();
    for (const s of stores.splice(0)) await s.close();
  });
  afterAll(async () => {
    await upstream.close();
    await redis.close();
  });

  const openStore = async () => {
    const { store } = await openRedisStore(redisStoreSettings(redis, prefix, encryption_key));
    return store;
  };
  async function instance(clock?: ReturnType<typeof fakeClock>): Promise<RunningService> {
    const svc = await startService({ config: configWith([apiKeyProvider('p', upstream.url)]), store: await openStore(), clock: clock?.clock });
    services.push(svc);
    return svc;
  }
  async function pair(clock?: ReturnType<typeof fakeClock>): Promise<[RunningService, RunningService]> {
    prefix = `ck${++n}:`;
    return [await instance(), await instance(clock)];
  }
  const use = async (svc: RunningService, key: string) => (await postMessage(svc.url, { headers: { 'x-api-key': key } })).status;
  const create = async (svc: RunningService, name: string) => {
    const res = await admin(svc.url, 'POST', '/admin/keys', { body: { name } });
    expect(res.status).toBe(201);
    return res.json.key as string;
  };
  const names = async (svc: RunningService) => ((await admin(svc.url, 'GET', '/admin/keys')).json.keys as Array<{ name: string }>).map((k) => k.name);
  const storedNames = async (store: TokenStore) =>
    ((await store.loadDocument(CLIENT_KEYS_DOCUMENT)) as { keys: Array<{ name: string }> }).keys.map((k) => k.name);

  it('a key created on A authenticates on B without a restart; removed on A, B refuses it', async () => {
    const [a, b] = await pair();
    await create(a, 'seed'); // /v1 needs a key on both from here on
    await expect.poll(() => names(b), { timeout: 2000, interval: 20 }).toEqual(['seed']);
    const key = await create(a, 'laptop');
    await expect.poll(() => use(b, key), { timeout: 2000, interval: 20 }).toBe(200);
    expect(await use(a, key)).toBe(200);

    expect((await admin(a.url, 'DELETE', '/admin/keys/laptop')).status).toBe(200);
    await expect.poll(() => use(b, key), { timeout: 2000, interval: 20 }).toBe(401);
    expect(await use(a, key)).toBe(401);
  });

  it("B's last-use write after A removed one key and created another keeps both changes", async () => {
    const clock = fakeClock(Date.now());
    const [a, b] = await pair(clock);
    const used = await create(a, 'used');
    await create(a, 'doomed');
    await expect.poll(() => names(b), { timeout: 2000, interval: 20 }).toEqual(['used', 'doomed']);
    expect(await use(b, used)).toBe(200); // arms B's last-use write
    expect((await admin(a.url, 'DELETE', '/admin/keys/doomed')).status).toBe(200);
    await create(a, 'added');
    await expect.poll(() => names(b), { timeout: 2000, interval: 20 }).toEqual(['used', 'added']);

    await clock.advance(MINUTE);
    await expect
      .poll(async () => ((await b.store.loadDocument(CLIENT_KEYS_DOCUMENT)) as { keys: Array<{ last_used_at: number | null }> }).keys[0]!.last_used_at, { timeout: 2000, interval: 20 })
      .toBe(clock.now() - MINUTE);
    expect(await storedNames(b.store)).toEqual(['used', 'added']);
    expect(await names(a)).toEqual(['used', 'added']);
    expect(await names(b)).toEqual(['used', 'added']);
  });

  it('a last-use write from an instance that has not heard of a removal yet does not put the key back', async () => {
    prefix = `ck${++n}:`;
    const [a, b] = [await openStore(), await openStore()];
    stores.push(a, b);
    const clock = fakeClock(Date.now());
    const keysA = await ClientKeys.open(a, []);
    const gone = (await keysA.create('gone', configWith([]) as never)).key;
    const kept = (await keysA.create('kept', configWith([]) as never)).key;
    // B's view of the store without its change feed: the removal's message has not reached it.
    const deaf: TokenStore = {
      kind: 'redis',
      location: b.location,
      load: () => b.load(),
      save: (x) => b.save(x),
      remove: (x) => b.remove(x),
      loadDocument: (name) => b.loadDocument(name),
      saveDocument: (name, value) => b.saveDocument(name, value),
      updateDocument: (name, update) => b.updateDocument(name, update),
    };
    const keysB = await ClientKeys.open(deaf, [], { clock: clock.clock });
    expect(keysB.match([gone])).toBe('gone');
    expect(keysB.match([kept])).toBe('kept');
    await keysA.remove('gone');
    await keysA.create('fresh', configWith([]) as never);
    await clock.advance(MINUTE);
    await keysB.close();
    const stored = (await a.loadDocument(CLIENT_KEYS_DOCUMENT)) as { keys: Array<{ name: string; last_used_at: number | null }> };
    expect(stored.keys.map((k) => [k.name, k.last_used_at])).toEqual([
      ['kept', clock.now() - MINUTE],
      ['fresh', null],
    ]);
    await keysA.close();
  });

  it('concurrent document updates from two instances all land', async () => {
    prefix = `ck${++n}:`;
    const [a, b] = [await openStore(), await openStore()];
    stores.push(a, b);
    const append = (item: number) => (current: unknown) => [...((current as number[] | undefined) ?? []), item];
    await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).updateDocument('counts', append(i))));
    expect(((await a.loadDocument('counts')) as number[]).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
