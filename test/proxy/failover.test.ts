import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

const body = '{"model":"m","max_tokens":1,"messages":[]}';
const post = (url: string) =>
  request(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** A loopback port with nothing listening. */
async function closedPortUrl(): Promise<string> {
  const fake = await startFakeAnthropic();
  const url = fake.url;
  await fake.close();
  return url;
}

describe('failover between providers', () => {
  let first: FakeAnthropic;
  let second: FakeAnthropic;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    first = await startFakeAnthropic();
    second = await startFakeAnthropic();
  });
  afterAll(async () => {
    await first.close();
    await second.close();
  });
  afterEach(async () => {
    await svc?.close();
    svc = undefined;
    first.reset();
    second.reset();
  });

  const twoProviders = (settings: Record<string, unknown> = {}) =>
    configWith([apiKeyProvider('first', first.url), apiKeyProvider('second', second.url)], settings);

  for (const status of [500, 502, 529, 429]) {
    it(`moves to the next provider on ${status} before anything reached the client, with the same body`, async () => {
      svc = await startService({ config: twoProviders() });
      first.script({ kind: 'json', status });
      const res = await post(svc.url);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-balancer-provider']).toBe('second');
      await res.body.dump();
      expect(first.requests).toHaveLength(1);
      expect(second.requests).toHaveLength(1);
      expect(second.requests[0].body.toString()).toBe(body);
    });
  }

  it('moves on when the provider refuses the connection', async () => {
    svc = await startService({
      config: configWith([apiKeyProvider('down', await closedPortUrl()), apiKeyProvider('second', second.url)]),
    });
    const res = await post(svc.url);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-balancer-provider']).toBe('second');
    await res.body.dump();
  });

  it('moves on when the provider does not answer within headers_ms', async () => {
    svc = await startService({ config: twoProviders({ timeouts: { headers_ms: 200 } }) });
    first.script({ kind: 'hang' });
    const res = await post(svc.url);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-balancer-provider']).toBe('second');
    await res.body.dump();
  });

  it('skips a failed provider for failure_cooldown seconds and shows it in /health', async () => {
    svc = await startService({ config: twoProviders({ failure_cooldown: 60 }) });
    first.script({ kind: 'json', status: 503 });
    await (await post(svc.url)).body.dump();
    await (await post(svc.url)).body.dump();
    expect(first.requests).toHaveLength(1);
    expect(second.requests).toHaveLength(2);
    const health = (await (await request(`${svc.url}/health`)).body.json()) as {
      providers: Array<{ name: string; healthy: boolean; cooldown_until: string | null }>;
    };
    expect(health.providers[0]).toMatchObject({ name: 'first', healthy: false });
    expect(Date.parse(health.providers[0].cooldown_until!)).toBeGreaterThan(Date.now() + 50_000);
    expect(health.providers[1]).toMatchObject({ name: 'second', healthy: true });
  });

  it('never benches the last remaining provider', async () => {
    svc = await startService({ config: configWith([apiKeyProvider('only', first.url)]) });
    first.script({ kind: 'json', status: 500 });
    const failed = await post(svc.url);
    expect(failed.statusCode).toBe(500);
    await failed.body.dump();
    const next = await post(svc.url);
    expect(next.statusCode).toBe(200);
    await next.body.dump();
    expect(first.requests).toHaveLength(2);
  });

  for (const status of [400, 401, 404, 413]) {
    it(`returns ${status} as it is, without failover`, async () => {
      svc = await startService({ config: twoProviders() });
      first.script({ kind: 'json', status, headers: { 'x-from': 'first' } });
      const res = await post(svc.url);
      expect(res.statusCode).toBe(status);
      expect(res.headers['x-from']).toBe('first');
      expect(((await res.body.json()) as { error: { type: string } }).error.type).toBeTruthy();
      expect(second.requests).toHaveLength(0);
    });
  }

  it('gives the client the last upstream error unchanged when every provider failed', async () => {
    svc = await startService({ config: twoProviders() });
    first.script({ kind: 'json', status: 500 });
    second.script({ kind: 'json', status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, headers: { 'x-last': '1' } });
    const res = await post(svc.url);
    expect(res.statusCode).toBe(529);
    expect(res.headers['x-last']).toBe('1');
    expect(res.headers['request-id']).toMatch(/^req_/);
    expect(await res.body.json()).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  it('answers 503 naming the providers and why when none answered at all', async () => {
    const down1 = await closedPortUrl();
    const down2 = await closedPortUrl();
    svc = await startService({ config: configWith([apiKeyProvider('one', down1), apiKeyProvider('two', down2)]) });
    const res = await post(svc.url);
    expect(res.statusCode).toBe(503);
    const json = (await res.body.json()) as { type: string; error: { type: string; message: string } };
    expect(json.type).toBe('error');
    expect(json.error.message).toContain('one: connection refused');
    expect(json.error.message).toContain('two: connection refused');
  });

  it('does not fail over once the stream has started: the client gets an error event', async () => {
    svc = await startService({ config: twoProviders() });
    first.script({ kind: 'drop', afterEvents: 2 });
    const res = await request(`${svc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"m","max_tokens":1,"stream":true,"messages":[]}',
    });
    const text = await res.body.text();
    expect(text).toContain('event: error');
    expect(second.requests).toHaveLength(0);
  });
});
