// Attack (#10.4): a request target that leaves /v1 (or the provider's base path) upstream, where
// the pool's credential would be applied to it: dot segments in any encoding, encoded slashes,
// backslashes, absolute form. Each is refused with 400 before anything reaches the upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, jsonBody, messagesBody, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
beforeAll(async () => {
  setup = await startConformance({ basePath: '/base' });
});
afterAll(() => setup.close());

const json = { 'content-type': 'application/json' };

describe('targets that would leave /v1', () => {
  it.each([
    ['POST', '/v1/../api/oauth/profile'],
    ['GET', '/v1/../api/oauth/profile'],
    ['GET', '/v1/%2e%2e/api/oauth/profile'],
    ['GET', '/v1/%2E%2E/api/oauth/profile'],
    ['GET', '/v1/.%2e/.%2E/oauth/profile'],
    ['GET', '/v1/%2e%2e%2f%2e%2e%2fapi%2foauth%2fprofile'],
    ['GET', '/v1/..\\..\\api\\oauth\\profile'],
    ['GET', 'http://127.0.0.1/api/oauth/profile'],
    ['GET', 'http://api.anthropic.com/v1/../api/oauth/profile'],
    ['GET', '/v1/%252e%252e/api/oauth/profile'],
    ['GET', '/%761/models'],
  ])('%s %s: 400 invalid_request_error, nothing upstream', async (method, target) => {
    const body = method === 'POST' ? messagesBody() : undefined;
    const { response } = await setup.send(httpRequest(method, target, { host: `localhost:${setup.port}`, ...json }, body));
    expect(response!.status).toBe(400);
    expect(jsonBody(response!)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(setup.upstream.records).toEqual([]);
  });
});

describe('an absolute-form target on an admin route', () => {
  it('naming localhost under a foreign Host does not pass the local-name rule (400, nothing done)', async () => {
    const { response } = await setup.send(
      httpRequest('POST', `http://localhost:${setup.port}/admin/keys`, { host: 'attacker.example', ...json }, '{"name":"smuggled"}'),
    );
    expect(response!.status).toBe(400);
    expect(setup.service.service.clientKeys.list()).toEqual([]);
  });

  it('with a local Host too: refused, not routed by its path', async () => {
    const { response } = await setup.send(httpRequest('GET', 'http://attacker.example/oauth/status', { host: `localhost:${setup.port}` }));
    expect(response!.status).toBe(400);
  });
});

describe('an ordinary target', () => {
  it('goes upstream as base path + path + the query string exactly as sent', async () => {
    const { response } = await setup.send(
      httpRequest('POST', '/v1/messages?beta=true&x=%2F..%2F', { host: `localhost:${setup.port}`, ...json }, messagesBody()),
    );
    expect(response!.status).toBe(200);
    expect(setup.upstream.records.map((r) => r.target)).toEqual(['/base/v1/messages?beta=true&x=%2F..%2F']);
    setup.upstream.records.length = 0;
  });
});
