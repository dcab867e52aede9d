// Usage statistics with two service instances on one real redis-server: both count into one
// document, and two writes at the same moment keep both sides' counts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../src/store/redis/open-redis-store.js';
import { USAGE_DOCUMENT } from '../../src/usage/usage-store.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService } from '../support/harness.js';
import { postMessage } from '../support/pool.js';
import { redisStoreSettings, startRedisServer, type RedisServer } from '../support/redis-server.js';

const encryption_key = randomBytes(32).toString('base64');

describe('usage statistics shared through Redis', { timeout: 30_000 }, () => {
  let redis: RedisServer;
  let upstream: FakeAnthropic;

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startFakeAnthropic();
  });
  afterAll(async () => {
    await upstream.close();
    await redis.close();
  });

  const openStore = async (prefix: string) => (await openRedisStore(redisStoreSettings(redis, prefix, encryption_key))).store;
  const served = (doc: unknown) =>
    ((doc as { buckets: Array<{ provider: string; statuses: Record<string, number> }> }).buckets)
      .filter((b) => b.provider === 'p')
      .reduce((sum, b) => sum + (b.statuses['200'] ?? 0), 0);

  it('two instances writing at the same moment both count', async () => {
    for (let round = 0; round < 3; round++) {
      const prefix = `usage${round}:`;
      const config = configWith([apiKeyProvider('p', upstream.url)]);
      const a = await startService({ config, store: await openStore(prefix) });
      const b = await startService({ config, store: await openStore(prefix) });
      for (let i = 0; i < 3; i++) expect((await postMessage(a.url)).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await postMessage(b.url)).status).toBe(200);
      // Shutdown writes what each counted; both writes start together.
      await Promise.all([a.close(), b.close()]);
      const reader = await openStore(prefix);
      expect(served(await reader.loadDocument(USAGE_DOCUMENT))).toBe(5);
      await reader.close();
    }
  });
});
