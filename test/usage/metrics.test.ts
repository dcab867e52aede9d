// GET /metrics: the Prometheus names of issue 13 with exactly what the fake API reported, the
// counters kept across a restart (seeded from the usage store), behind the admin access rules.
import { describe, expect } from 'vitest';
import { messageBody, sseEvents, unifiedHeaders } from '../fakes/fake-anthropic.js';
import { admin, fakeClock, it, postMessage, type Pool } from '../support/pool.js';

const A = 'a@example.com';
const P = 'Claude Code Official';
const JSON_USAGE = { input_tokens: 1200, output_tokens: 340, cache_creation_input_tokens: 56, cache_read_input_tokens: 7800 };
const SSE_USAGE = { input_tokens: 25, output_tokens: 611, cache_creation_input_tokens: 3, cache_read_input_tokens: 90 };
const body = (model: string, stream: boolean) => JSON.stringify({ model, max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }] });

async function metrics(pool: Pool): Promise<Map<string, number>> {
  const res = await admin(pool.svc.url, 'GET', '/metrics');
  expect(res.status, res.text).toBe(200);
  expect(String(res.headers['content-type'])).toContain('text/plain');
  const values = new Map<string, number>();
  for (const line of res.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

async function traffic(pool: Pool, reset: number) {
  pool.upstream.script(
    { kind: 'json', body: messageBody({ model: 'claude-opus-4-1', usage: JSON_USAGE }), headers: unifiedHeaders({ status: 'allowed', reset, util5h: 0.42, util7d: 0.17 }) },
    { kind: 'sse', events: sseEvents('one two', { model: 'claude-haiku-4-5', usage: SSE_USAGE }) },
    { kind: 'json', status: 400 },
  );
  expect((await postMessage(pool.svc.url, { body: body('claude-opus-4-1', false) })).status).toBe(200);
  expect((await postMessage(pool.svc.url, { body: body('claude-haiku-4-5', true) })).status).toBe(200);
  expect((await postMessage(pool.svc.url, { body: body('claude-haiku-4-5', false) })).status).toBe(400);
}

describe('/metrics', () => {
  it('counts requests and tokens as the fake sent them, across a restart', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: [A] });
    const reset = Math.floor(clock.now() / 1000) + 3600;
    await traffic(pool, reset);
    const refreshed = await admin(pool.svc.url, 'POST', `/oauth/refresh/${A}`);
    expect(refreshed.status, refreshed.text).toBe(200);

    const expected = (n: number) => ({
      [`balancer_requests_total{provider="${P}",account="${A}",status="200"}`]: 2 * n,
      [`balancer_requests_total{provider="${P}",account="${A}",status="400"}`]: n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-opus-4-1",type="input"}`]: 1200 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-opus-4-1",type="output"}`]: 340 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-opus-4-1",type="cache_creation"}`]: 56 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-opus-4-1",type="cache_read"}`]: 7800 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-haiku-4-5",type="input"}`]: 25 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-haiku-4-5",type="output"}`]: 611 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-haiku-4-5",type="cache_creation"}`]: 3 * n,
      [`balancer_tokens_total{provider="${P}",account="${A}",model="claude-haiku-4-5",type="cache_read"}`]: 90 * n,
      [`balancer_refreshes_total{account="${A}",outcome="success"}`]: n,
    });
    const first = await metrics(pool);
    expect(Object.fromEntries([...first].filter(([k]) => /^balancer_(requests|tokens|refreshes)_total/.test(k)))).toEqual(expected(1));
    expect(first.get(`balancer_account_available{account="${A}"}`)).toBe(1);
    expect(first.get(`balancer_account_utilization{account="${A}",window="5h"}`)).toBe(0.42);
    expect(first.get(`balancer_account_utilization{account="${A}",window="7d"}`)).toBe(0.17);
    // TTFB: one observation per response delivered from upstream (the 400 included).
    expect(first.get('balancer_upstream_duration_seconds_count')).toBe(3);

    await pool.restart();
    await traffic(pool, reset);
    await admin(pool.svc.url, 'POST', `/oauth/refresh/${A}`);
    const second = await metrics(pool);
    expect(Object.fromEntries([...second].filter(([k]) => /^balancer_(requests|tokens|refreshes)_total/.test(k)))).toEqual(expected(2));
  });

  it('shows an account that needs a login as unavailable', async ({ startPool }) => {
    const pool = await startPool({ accounts: [A] });
    pool.oauth.revokeRefreshToken(A);
    await admin(pool.svc.url, 'POST', `/oauth/refresh/${A}`);
    const values = await metrics(pool);
    expect(values.get(`balancer_account_available{account="${A}"}`)).toBe(0);
    expect(values.get(`balancer_refreshes_total{account="${A}",outcome="rejected"}`)).toBe(1);
  });

  it('answers local callers only, and with admin_token set only with it', async ({ startPool }) => {
    const pool = await startPool({ accounts: [], settings: { admin_token: 'admin-token-0123456789abcdef' } });
    expect((await admin(pool.svc.url, 'GET', '/metrics')).status).toBe(401);
    const ok = await admin(pool.svc.url, 'GET', '/metrics', { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('# TYPE balancer_upstream_duration_seconds histogram');
    const open = await startPool({ accounts: [] });
    expect((await admin(open.svc.url, 'GET', '/metrics', { headers: { host: 'evil.example' } })).status).toBe(403);
  });
});
