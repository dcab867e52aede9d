// Attack (#10.2): a page of another site makes the user's browser call /v1 (the pool's accounts).
// A request with a foreign Origin or Sec-Fetch-Site: cross-site is refused before anything goes
// upstream; only origins in settings.allowed_origins are served, and only they get CORS headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header, httpRequest, jsonBody, messagesBody, startConformance, type ConformanceSetup } from './support.js';

const JSON_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };

describe('without allowed_origins', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    // The upstream offers CORS itself (as api.anthropic.com can): that must not reach the browser.
    setup = await startConformance({ reply: () => ({ kind: 'json', headers: { 'access-control-allow-origin': '*' } }) });
  });
  afterAll(() => setup.close());

  it.each([
    { origin: 'https://attacker.example' },
    { origin: 'http://127.0.0.1.attacker.example' },
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' },
  ] as Array<Record<string, string>>)('%j gets 403 permission_error, no CORS header, nothing upstream', async (browser) => {
    const { response } = await setup.send(httpRequest('POST', '/v1/messages', { ...JSON_HEADERS, ...browser }, messagesBody()));
    expect(response!.status).toBe(403);
    expect(jsonBody(response!)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(jsonBody(response!).error.message).toMatch(/allowed_origins/);
    expect(header(response!, 'access-control-allow-origin')).toBeUndefined();
    expect(setup.upstream.records).toEqual([]);
  });

  it('a preflight from another site is refused and not forwarded', async () => {
    const { response } = await setup.send(
      httpRequest('OPTIONS', '/v1/messages', {
        origin: 'https://attacker.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-api-key',
      }),
    );
    expect(response!.status).toBe(403);
    expect(header(response!, 'access-control-allow-origin')).toBeUndefined();
    expect(setup.upstream.records).toEqual([]);
  });

  it('a page on this machine may call /v1 but gets no CORS header, not even the upstream one', async () => {
    const { response } = await setup.send(
      httpRequest('POST', '/v1/messages', { ...JSON_HEADERS, origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' }, messagesBody()),
    );
    expect(response!.status).toBe(200);
    expect(header(response!, 'access-control-allow-origin')).toBeUndefined();
    expect(setup.upstream.records.length).toBe(1);
    setup.upstream.records.length = 0;
  });
});

describe('with allowed_origins', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await startConformance({
      settings: { allowed_origins: ['https://App.example/'] },
      reply: () => ({ kind: 'json', headers: { 'access-control-allow-origin': '*' } }),
    });
  });
  afterAll(() => setup.close());

  it('answers the preflight of an allowed origin with what a browser needs, without going upstream', async () => {
    const { response } = await setup.send(
      httpRequest('OPTIONS', '/v1/messages', {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-api-key, anthropic-version',
        'access-control-request-private-network': 'true',
      }),
    );
    expect(response!.status).toBe(204);
    expect(header(response!, 'access-control-allow-origin')).toBe('https://app.example');
    expect(header(response!, 'access-control-allow-methods')).toContain('POST');
    expect(header(response!, 'access-control-allow-headers')).toBe('content-type, x-api-key, anthropic-version');
    expect(header(response!, 'access-control-allow-private-network')).toBe('true');
    expect(header(response!, 'access-control-allow-credentials')).toBeUndefined();
    expect(setup.upstream.records).toEqual([]);
  });

  it('serves the allowed origin with its own CORS header (not the upstream *)', async () => {
    const { response } = await setup.send(
      httpRequest('POST', '/v1/messages', { ...JSON_HEADERS, origin: 'https://app.example', 'sec-fetch-site': 'cross-site' }, messagesBody()),
    );
    expect(response!.status).toBe(200);
    expect(response!.headers['access-control-allow-origin']).toEqual(['https://app.example']);
    expect(header(response!, 'access-control-expose-headers')).toBe('*');
    expect(setup.upstream.records.length).toBe(1);
  });

  it('still refuses any other origin', async () => {
    setup.upstream.records.length = 0;
    const { response } = await setup.send(httpRequest('POST', '/v1/messages', { ...JSON_HEADERS, origin: 'https://app.example.attacker.example' }, messagesBody()));
    expect(response!.status).toBe(403);
    expect(setup.upstream.records).toEqual([]);
  });
});
