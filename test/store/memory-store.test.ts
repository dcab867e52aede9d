import { describe, expect, it } from 'vitest';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { account } from './accounts.js';

describe('MemoryTokenStore', () => {
  it('saves, replaces (case-insensitively) and removes accounts', async () => {
    const store = new MemoryTokenStore([account('a@example.com')]);
    await store.save(account('b@example.com'));
    await store.save(account('A@Example.com', { usage_count: 5 }));
    await store.remove('B@EXAMPLE.COM');
    await store.remove('nobody@example.com');
    expect(await store.load()).toEqual([account('A@Example.com', { usage_count: 5 })]);
  });

  it('keeps copies: changing a saved or loaded record does not change the store', async () => {
    const store = new MemoryTokenStore();
    const saved = account('a@example.com');
    await store.save(saved);
    saved.usage_count = 42;
    const [loaded] = await store.load();
    loaded!.access_token = 'changed';
    expect(await store.load()).toEqual([account('a@example.com')]);
  });
});
