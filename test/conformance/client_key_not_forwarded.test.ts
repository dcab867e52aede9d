// Attack (#10.3, #10.7): the client's secrets for this service (its client key, the admin token,
// localhost cookies) travel on to Anthropic. The upstream must see the provider's credential only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, startPool, type Pool } from '../support/pool.js';
import { httpRequest, messagesBody, RawClient, startConformance, UPSTREAM_KEY, type ConformanceSetup } from './support.js';

const KEY = 'client-key-never-upstream-0123456789';
const ADMIN_TOKEN = 'admin-token-never-upstream-0123';
const COOKIE = 'session=cookie-never-upstream-0123';
const CLIENT_SECRETS = [KEY, ADMIN_TOKEN, COOKIE];

/** Requests carrying the client key both ways, plus the admin token and a cookie. */
function requests(port: string): Buffer[] {
  const common = {
    host: `localhost:${port}`,
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'x-admin-token': ADMIN_TOKEN,
    cookie: COOKIE,
  };
  return [
    httpRequest('POST', '/v1/messages', { ...common, 'x-api-key': KEY }, messagesBody()),
    httpRequest('POST', '/v1/messages', { ...common, authorization: `Bearer ${KEY}` }, messagesBody()),
  ];
}

async function sendAll(url: string): Promise<number[]> {
  const statuses: number[] = [];
  for (const bytes of requests(new URL(url).port)) {
    const client = await RawClient.connect(url);
    await client.write(bytes);
    statuses.push((await client.read()).status);
    client.destroy();
  }
  return statuses;
}

function expectNoClientSecret(rawHeaders: string[][]): void {
  for (const headers of rawHeaders) {
    const text = headers.join('\n');
    for (const secret of CLIENT_SECRETS) expect(text).not.toContain(secret);
    const names = headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names).not.toContain('x-admin-token');
    expect(names).not.toContain('cookie');
  }
}

describe('with an api_key provider', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await startConformance({ settings: { client_keys: [{ name: 'laptop', key: KEY }], admin_token: ADMIN_TOKEN } });
  });
  afterAll(() => setup.close());

  it('the upstream gets the provider key and none of the client secrets', async () => {
    expect(await sendAll(setup.url)).toEqual([200, 200]);
    expect(setup.upstream.records.length).toBe(2);
    for (const record of setup.upstream.records) {
      expect(record.headers['x-api-key']).toBe(UPSTREAM_KEY);
      expect(record.headers.authorization).toBeUndefined();
    }
    expectNoClientSecret(setup.upstream.records.map((r) => r.rawHeaders));
  });
});

describe('with the OAuth pool', () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = await startPool({ settings: { client_keys: [{ name: 'laptop', key: KEY }] }, accounts: ['alice@example.com'] });
  });
  afterAll(() => pool.close());

  it('the upstream gets the account token and none of the client secrets', async () => {
    expect(await sendAll(pool.svc.url)).toEqual([200, 200]);
    const token = pool.account('alice@example.com').record.access_token;
    expect(pool.upstream.requests.length).toBe(2);
    for (const r of pool.upstream.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${token}`);
      expect(r.headers['x-api-key']).toBeUndefined();
    }
    expectNoClientSecret(pool.upstream.requests.map((r) => Object.entries(r.headers).flat().map(String)));
    // The admin API still answers without the key (it is not an admin credential).
    expect((await admin(pool.svc.url, 'GET', '/oauth/status')).status).toBe(200);
  });
});
