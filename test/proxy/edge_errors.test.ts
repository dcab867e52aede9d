import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

describe('errors at the edge are Anthropic-shaped', () => {
  let upstream: FakeAnthropic;
  let svc: RunningService;

  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    svc = await startService({ config: configWith([apiKeyProvider('primary', upstream.url)], { max_body_bytes: 1024 }) });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });

  it('400 invalid_request_error for a JSON body that is not an object', async () => {
    for (const body of ['broken', ' \r\n\t[{"model": "m"}]', '"text"']) {
      const res = await request(`${svc.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.statusCode).toBe(400);
      const json = (await res.body.json()) as { type: string; error: { type: string; message: string } };
      expect(json).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: 'The request body must be a JSON object (it must start with "{").' },
      });
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('a body that starts as an object goes upstream as sent: deeper JSON errors are the upstream\'s to answer', async () => {
    const body = ' {"model": "m", broken';
    const res = await request(`${svc.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.body.dump();
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0].body.toString()).toBe(body);
    upstream.requests.length = 0;
  });

  it('413 request_too_large over max_body_bytes', async () => {
    const res = await request(`${svc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] }),
    });
    expect(res.statusCode).toBe(413);
    expect(await res.body.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(upstream.requests).toHaveLength(0);
  });

  it('404 not_found_error for an unknown route outside /v1', async () => {
    const res = await request(`${svc.url}/nope`);
    expect(res.statusCode).toBe(404);
    expect(await res.body.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});
