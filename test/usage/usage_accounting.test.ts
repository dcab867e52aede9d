// Token usage read from the relayed responses: /admin/usage counts exactly what the fake API
// reported, for JSON and SSE, per account, model and client key, and across a restart.
import { describe, expect } from 'vitest';
import { messageBody, sseEvents } from '../fakes/fake-anthropic.js';
import { admin, fakeClock, it, postMessage, type Pool } from '../support/pool.js';
import type { ActivityEntry } from '../../src/activity/activity-feed.js';

const KEY_A = 'laptop-key-0123456789abcdefghij';
const KEY_B = 'server-key-0123456789abcdefghij';
const JSON_USAGE = { input_tokens: 1200, output_tokens: 340, cache_creation_input_tokens: 56, cache_read_input_tokens: 7800 };
const SSE_USAGE = { input_tokens: 25, output_tokens: 611, cache_creation_input_tokens: 3, cache_read_input_tokens: 90 };
const streamBody = (model: string) => JSON.stringify({ model, max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] });
const jsonBody = (model: string) => JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

async function usage(pool: Pool, query: string) {
  const res = await admin(pool.svc.url, 'GET', `/admin/usage?${query}`);
  expect(res.status, res.text).toBe(200);
  return res.json;
}

/** One JSON reply from the fake with JSON_USAGE (model opus) and one SSE reply with SSE_USAGE (model haiku). */
async function oneOfEach(pool: Pool, key?: string) {
  pool.upstream.script(
    { kind: 'json', body: messageBody({ model: 'claude-opus-4-1', usage: JSON_USAGE }) },
    { kind: 'sse', events: sseEvents('one two three', { model: 'claude-haiku-4-5', usage: SSE_USAGE }) },
  );
  const headers = key ? { 'x-api-key': key } : undefined;
  const a = await postMessage(pool.svc.url, { headers, body: jsonBody('claude-opus-4-1') });
  expect(a.status, a.text).toBe(200);
  const b = await postMessage(pool.svc.url, { headers, body: streamBody('claude-haiku-4-5') });
  expect(b.status, b.text).toBe(200);
  expect(b.text).toContain('event: message_stop');
}

describe('usage accounting', () => {
  it('counts the tokens of JSON and SSE responses per model, exactly as the fake sent them', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['a@example.com'] });
    await oneOfEach(pool);
    const byModel = await usage(pool, 'group_by=model');
    expect(byModel.group_by).toEqual(['model']);
    const rows = Object.fromEntries(byModel.buckets.map((r: any) => [r.model, r]));
    expect(rows['claude-opus-4-1'].tokens).toEqual({ input: 1200, output: 340, cache_creation: 56, cache_read: 7800 });
    expect(rows['claude-haiku-4-5'].tokens).toEqual({ input: 25, output: 611, cache_creation: 3, cache_read: 90 });
    expect(rows['claude-opus-4-1'].requests).toBe(1);
    expect(rows['claude-haiku-4-5'].errors).toEqual({});
    expect(typeof rows['claude-haiku-4-5'].ttfb_ms_avg).toBe('number');

    const byAccount = await usage(pool, 'group_by=account');
    expect(byAccount.buckets).toHaveLength(1);
    expect(byAccount.buckets[0]).toMatchObject({
      provider: 'Claude Code Official',
      account: 'a@example.com',
      requests: 2,
      tokens: { input: 1225, output: 951, cache_creation: 59, cache_read: 7890 },
    });

    const byHour = await usage(pool, 'group_by=hour');
    expect(byHour.buckets.map((r: any) => [r.hour, r.requests])).toEqual([['2026-06-01T12:00:00.000Z', 2]]);
  });

  it('counts per client key and per hour; errors by class', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({
      clock,
      accounts: ['a@example.com'],
      settings: { client_keys: [{ name: 'laptop', key: KEY_A }, { name: 'server', key: KEY_B }] },
    });
    await oneOfEach(pool, KEY_A);
    clock.jump(60 * 60_000);
    pool.upstream.script({ kind: 'json', status: 400 });
    expect((await postMessage(pool.svc.url, { headers: { 'x-api-key': KEY_B }, body: jsonBody('claude-opus-4-1') })).status).toBe(400);

    const byKey = await usage(pool, 'group_by=key');
    expect(byKey.buckets.map((r: any) => [r.key, r.requests, r.errors, r.tokens.output])).toEqual([
      ['laptop', 2, {}, 951],
      ['server', 1, { client: 1 }, 0],
    ]);
    const byKeyHour = await usage(pool, 'group_by=hour,key');
    expect(byKeyHour.buckets.map((r: any) => [r.hour, r.key, r.requests])).toEqual([
      ['2026-06-01T12:00:00.000Z', 'laptop', 2],
      ['2026-06-01T13:00:00.000Z', 'server', 1],
    ]);
    // from/to select whole hours: only the second one.
    const later = await usage(pool, 'group_by=key&from=2026-06-01T13:00:00Z');
    expect(later.buckets.map((r: any) => r.key)).toEqual(['server']);
  });

  it('keeps the counts across a restart, written at most once per 30 s and at shutdown', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['a@example.com'] });
    await oneOfEach(pool);
    expect(await pool.store.loadDocument('usage')).toBeUndefined();
    await clock.advance(29_000);
    expect(await pool.store.loadDocument('usage')).toBeUndefined();
    await clock.advance(1_000);
    const written = (await pool.store.loadDocument('usage')) as any;
    expect(written.buckets.reduce((n: number, b: any) => n + b.tokens.cache_read, 0)).toBe(7890);

    await oneOfEach(pool); // not yet written: the shutdown flushes it
    await pool.restart();
    const byModel = await usage(pool, 'group_by=model');
    const rows = Object.fromEntries(byModel.buckets.map((r: any) => [r.model, [r.requests, r.tokens]]));
    expect(rows).toEqual({
      'claude-opus-4-1': [2, { input: 2400, output: 680, cache_creation: 112, cache_read: 15600 }],
      'claude-haiku-4-5': [2, { input: 50, output: 1222, cache_creation: 6, cache_read: 180 }],
    });
  });

  it('emits one activity event per finished request, with names and numbers only', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com'], settings: { client_keys: [{ name: 'laptop', key: KEY_A }] } });
    const seen: ActivityEntry[] = [];
    pool.svc.service.activity.on((a) => seen.push(a));
    await oneOfEach(pool, KEY_A);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(2);
    expect(seen.map(({ at, ms, ttfb_ms, ...rest }) => rest)).toEqual([
      { provider: 'Claude Code Official', account: 'a@example.com', model: 'claude-opus-4-1', key: 'laptop', status: 200, tokens: { input: 1200, output: 340, cache_creation: 56, cache_read: 7800 } },
      { provider: 'Claude Code Official', account: 'a@example.com', model: 'claude-haiku-4-5', key: 'laptop', status: 200, tokens: { input: 25, output: 611, cache_creation: 3, cache_read: 90 } },
    ]);
    expect(JSON.stringify(seen)).not.toContain(KEY_A);
  });

  it('answers a bad query with 400 naming the parameter, and only local callers', async ({ startPool }) => {
    const pool = await startPool({ accounts: [] });
    const bad = await admin(pool.svc.url, 'GET', '/admin/usage?group_by=day');
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe('GET /admin/usage: group_by "day" is not one of account, model, key, hour');
    const badTime = await admin(pool.svc.url, 'GET', '/admin/usage?from=yesterday');
    expect(badTime.json.message).toContain('from must be an ISO 8601 time');
    const foreign = await admin(pool.svc.url, 'GET', '/admin/usage', { headers: { host: 'evil.example' } });
    expect(foreign.status).toBe(403);
  });
});
