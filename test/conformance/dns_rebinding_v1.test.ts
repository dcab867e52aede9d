// Attack (#10.2): a page rebinds its own name to 127.0.0.1 and uses the pool through /v1. On a
// loopback connection, /v1 answers only requests addressed by an exact local name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header, httpRequest, jsonBody, messagesBody, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
let port: string;
beforeAll(async () => {
  setup = await startConformance();
  port = new URL(setup.url).port;
});
afterAll(() => setup.close());

const post = (host: string) =>
  setup.send(httpRequest('POST', '/v1/messages', { host, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, messagesBody()));

describe('/v1 under a rebound name', () => {
  it.each(['127.0.0.1.attacker.example', '127.attacker.example', 'localhost.attacker.example', 'attacker.example', '127.1'])(
    'Host %s gets 403 permission_error and nothing goes upstream',
    async (name) => {
      for (const host of [name, `${name}:${port}`]) {
        const { response } = await post(host);
        expect(response!.status, host).toBe(403);
        expect(header(response!, 'content-type')).toMatch(/^application\/json/);
        expect(jsonBody(response!)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
        expect(jsonBody(response!).error.message).toMatch(/DNS rebinding/);
      }
      expect(setup.upstream.records).toEqual([]);
    },
  );

  it('GET /v1/models is refused the same way', async () => {
    const { response } = await setup.send(httpRequest('GET', '/v1/models', { host: `127.0.0.1.attacker.example:${port}` }));
    expect(response!.status).toBe(403);
    expect(setup.upstream.records).toEqual([]);
  });

  it('exact local names are forwarded', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const { response } = await post(host);
      expect(response!.status, host).toBe(200);
    }
    expect(setup.upstream.records.length).toBe(3);
    setup.upstream.records.length = 0;
  });
});
