// Attack (#10.1): a web page rebinds a name like 127.0.0.1.attacker.example to 127.0.0.1 and
// drives the admin API through the user's browser. Only exact local names may reach it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, jsonBody, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
let port: string;
beforeAll(async () => {
  setup = await startConformance();
  port = new URL(setup.url).port;
});
afterAll(() => setup.close());

const REBOUND_NAMES = [
  '127.0.0.1.attacker.example',
  '127.attacker.example',
  '127.0.0.1.nip.io',
  'localhost.attacker.example',
  'localhost.',
  'attacker.example',
];

const ADMIN_CALLS: Array<[method: string, path: string, body?: string]> = [
  ['GET', '/oauth/status'],
  ['GET', '/oauth/generate-url'],
  ['DELETE', '/oauth/tokens'],
  ['POST', '/admin/keys', JSON.stringify({ name: 'attacker' })],
  ['GET', '/admin/keys'],
  ['POST', '/admin/reload'],
];

async function call(method: string, path: string, headers: Record<string, string>, body?: string) {
  const h = body === undefined ? headers : { ...headers, 'content-type': 'application/json' };
  const { response } = await setup.send(httpRequest(method, path, h, body));
  return response!;
}

describe('admin routes under a rebound name', () => {
  it.each(REBOUND_NAMES)('Host %s (with the port) gets the admin guard 403 on every route', async (name) => {
    for (const [method, path, body] of ADMIN_CALLS) {
      const res = await call(method, path, { host: `${name}:${port}` }, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(jsonBody(res).error, `${method} ${path}`).toBe('forbidden');
    }
    expect(setup.service.service.clientKeys.list()).toEqual([]);
    expect(setup.upstream.records).toEqual([]);
  });

  it.each(REBOUND_NAMES)('Origin http://%s gets the 403 even with a local Host', async (name) => {
    for (const [method, path, body] of ADMIN_CALLS) {
      const res = await call(method, path, { host: `127.0.0.1:${port}`, origin: `http://${name}:${port}` }, body);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect(setup.service.service.clientKeys.list()).toEqual([]);
  });

  it('a cross-site navigation (Sec-Fetch-Site: cross-site, no Origin) gets the 403', async () => {
    const res = await call('GET', '/oauth/generate-url', { host: `localhost:${port}`, 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(403);
  });

  it('exact local names are served', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.0.0.1`, `[::1]:${port}`]) {
      const res = await call('GET', '/oauth/status', { host });
      expect(res.status, host).toBe(200);
    }
    const res = await call('GET', '/admin/keys', { host: `localhost:${port}`, origin: `http://localhost:${port}` });
    expect(res.status).toBe(200);
    expect(setup.upstream.records).toEqual([]);
  });
});
