import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

const KEY = 'sk-ant-api03-provider-key-abcdefghijklmnopqrstuvwxyz';

describe('forwarding to an api_key provider', () => {
  let upstream: FakeAnthropic;
  let svc: RunningService;

  beforeAll(async () => {
    upstream = await startFakeAnthropic({ auth: { mode: 'api_key', keys: new Set([KEY]) } });
    svc = await startService({ config: configWith([apiKeyProvider('primary', upstream.url, KEY)]) });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });
  beforeEach(() => upstream.reset());

  it('sends the body byte for byte, with method, path and query unchanged', async () => {
    // Odd spacing, key order and unicode escapes would all be lost by a re-serialization.
    const body = '{ "model":"claude-sonnet-4-5",  "max_tokens": 5,\n "messages":[{"role":"user","content":"h\\u00e9llo ✓"}], "z":1, "a":2 }';
    const res = await request(`${svc.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'client-key', 'anthropic-beta': 'tools-2024-04-04' },
      body,
    });
    expect(res.statusCode).toBe(200);
    await res.body.json();
    expect(upstream.requests).toHaveLength(1);
    const seen = upstream.requests[0];
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/v1/messages?beta=true');
    expect(seen.body.equals(Buffer.from(body))).toBe(true);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it("replaces the client's credentials with the provider's and sets the Anthropic defaults", async () => {
    // node:http sends the headers as written, Connection included.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${svc.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': 'client-key',
          authorization: 'Bearer client-token',
          'accept-encoding': 'gzip, br',
          connection: 'keep-alive, x-hop',
          'x-hop': 'should not pass',
          'proxy-authorization': 'Basic abc',
          'x-claude-code-session-id': 'session-1',
        },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'm', max_tokens: 1, messages: [] }));
    });
    expect(status).toBe(200);
    const h = upstream.requests[0].headers;
    expect(h['x-api-key']).toBe(KEY);
    expect(h.authorization).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h['anthropic-version']).toBe('2023-06-01');
    expect(h['accept-encoding']).toBe('identity');
    expect(h['x-hop']).toBeUndefined();
    expect(h['x-claude-code-session-id']).toBe('session-1');
    expect(h.host).toBe(new URL(upstream.url).host);
  });

  it("keeps the client's anthropic-version", async () => {
    await (
      await request(`${svc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2099-01-01' },
        body: '{"model":"m","max_tokens":1,"messages":[]}',
      })
    ).body.dump();
    expect(upstream.requests[0].headers['anthropic-version']).toBe('2099-01-01');
  });

  it('passes the upstream status and headers through, request-id and rate-limit headers included', async () => {
    upstream.script({
      kind: 'json',
      status: 200,
      body: { ok: true },
      headers: { 'anthropic-ratelimit-requests-remaining': '41', 'x-custom': 'yes' },
    });
    const res = await request(`${svc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"m","max_tokens":1,"messages":[]}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['request-id']).toMatch(/^req_/);
    expect(res.headers['anthropic-ratelimit-requests-remaining']).toBe('41');
    expect(res.headers['x-custom']).toBe('yes');
    expect(res.headers['x-balancer-provider']).toBe('primary');
    expect(await res.body.json()).toEqual({ ok: true });
  });

  it('forwards count_tokens, the models list, one model and other /v1 paths', async () => {
    const count = await request(`${svc.url}/v1/messages/count_tokens?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
    });
    expect(count.statusCode).toBe(200);
    expect(await count.body.json()).toHaveProperty('input_tokens');

    const models = await request(`${svc.url}/v1/models?limit=5`);
    expect(models.statusCode).toBe(200);
    const list = (await models.body.json()) as { data: Array<{ id: string }> };
    expect(list.data.length).toBeGreaterThan(0);

    const one = await request(`${svc.url}/v1/models/${list.data[0].id}`);
    expect(one.statusCode).toBe(200);
    expect(((await one.body.json()) as { id: string }).id).toBe(list.data[0].id);

    const other = await request(`${svc.url}/v1/something/else`, { method: 'DELETE' });
    expect(other.statusCode).toBe(404);
    await other.body.dump();
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/messages/count_tokens?beta=true',
      'GET /v1/models?limit=5',
      `GET /v1/models/${list.data[0].id}`,
      'DELETE /v1/something/else',
    ]);
  });

  it('answers the probes Claude Code sends to its base URL', async () => {
    for (const path of ['/', '/api/hello']) {
      const res = await request(`${svc.url}${path}`, { method: 'HEAD' });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('reports provider health', async () => {
    const res = await request(`${svc.url}/health`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({
      status: 'ok',
      providers: [{ name: 'primary', healthy: true, cooldown_until: null }],
      store: { kind: 'memory', state: 'ok' },
    });
  });
});
