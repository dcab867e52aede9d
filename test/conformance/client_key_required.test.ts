// Attack (#10.3): anyone who can reach /v1 uses the pool. When a client key exists, or the service
// listens beyond loopback, /v1 needs one; nothing goes upstream without it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, jsonBody, messagesBody, startConformance, type ConformanceSetup } from './support.js';
import { cliCommand } from '../../src/hints/cli-command.js';

const KEY = 'laptop-key-0123456789abcdefghij';
const JSON_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
const post = (setup: ConformanceSetup, headers: Record<string, string> = {}) =>
  setup.send(httpRequest('POST', '/v1/messages', { ...JSON_HEADERS, ...headers }, messagesBody()));

describe('with settings.client_keys', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await startConformance({ settings: { client_keys: [{ name: 'laptop', key: KEY }] } });
  });
  afterAll(() => setup.close());

  it.each([
    ['no key', {}, /needs a client key/],
    ['a wrong x-api-key', { 'x-api-key': `${KEY}x` }, /not a client key of this balancer/],
    ['a wrong bearer token', { authorization: 'Bearer anything' }, /not a client key of this balancer/],
    ['a prefix of the key', { 'x-api-key': KEY.slice(0, -1) }, /not a client key of this balancer/],
    ['the key in the wrong scheme', { authorization: `Basic ${KEY}` }, /needs a client key/],
  ])('%s: 401 authentication_error saying how to get a key, nothing upstream', async (_what, headers, message) => {
    const { response } = await post(setup, headers);
    expect(response!.status).toBe(401);
    const body = jsonBody(response!);
    expect(body).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(body.error.message).toMatch(message);
    expect(body.error.message).toContain(cliCommand('keys add <name>'));
    expect(response!.raw.toString('latin1')).not.toContain(KEY);
    expect(setup.upstream.records).toEqual([]);
  });

  it('the key as x-api-key or as Authorization: Bearer is served, and its name is logged', async () => {
    expect((await post(setup, { 'x-api-key': KEY })).response!.status).toBe(200);
    expect((await post(setup, { authorization: `Bearer ${KEY}` })).response!.status).toBe(200);
    expect(setup.upstream.records.length).toBe(2);
    const lines = setup.service.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.status === 200);
    expect(lines.map((l) => l.client_key)).toEqual(['laptop', 'laptop']);
    expect(setup.service.logs.join('')).not.toContain(KEY);
    setup.upstream.records.length = 0;
  });

  it('a key created at run time works at once and stops working when removed', async () => {
    const port = new URL(setup.url).port;
    const created = await setup.send(httpRequest('POST', '/admin/keys', { host: `localhost:${port}`, 'content-type': 'application/json' }, '{"name":"ci"}'));
    expect(created.response!.status).toBe(201);
    const key = jsonBody(created.response!).key as string;
    expect(key).toMatch(/^ccb-[A-Za-z0-9_-]{43}$/);
    expect((await post(setup, { authorization: `Bearer ${key}` })).response!.status).toBe(200);
    const removed = await setup.send(httpRequest('DELETE', '/admin/keys/ci', { host: `localhost:${port}` }));
    expect(removed.response!.status).toBe(200);
    expect((await post(setup, { authorization: `Bearer ${key}` })).response!.status).toBe(401);
    expect(setup.upstream.records.length).toBe(1);
    setup.upstream.records.length = 0;
  });
});

describe('on a non-loopback host without any key', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await startConformance({ settings: { host: '0.0.0.0', admin_token: 'an-admin-token-0123456789' } });
  });
  afterAll(() => setup.close());

  it('/v1 answers 401 explaining how to create a key; nothing goes upstream', async () => {
    for (const headers of [{}, { 'x-api-key': 'sk-ant-api03-whatever' }, { authorization: 'Bearer anything' }] as Array<Record<string, string>>) {
      const { response } = await post(setup, headers);
      expect(response!.status).toBe(401);
      const body = jsonBody(response!);
      expect(body.error.type).toBe('authentication_error');
      expect(body.error.message).toMatch(/listens on 0\.0\.0\.0.*none exists yet/);
      expect(body.error.message).toContain(cliCommand('keys add <name>'));
    }
    expect(setup.upstream.records).toEqual([]);
  });
});

describe('without keys on loopback', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await startConformance();
  });
  afterAll(() => setup.close());

  it('/v1 stays open to local clients, as before', async () => {
    expect((await post(setup)).response!.status).toBe(200);
    expect(setup.upstream.records.length).toBe(1);
  });
});
