// Attack (#10.8): two Host headers. Node keeps the first and drops the other, so a front proxy
// and this service could disagree on where the request goes. It is refused, on every route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header, jsonBody, messagesBody, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
let port: string;
beforeAll(async () => {
  setup = await startConformance();
  port = new URL(setup.url).port;
});
afterAll(() => setup.close());

function twoHosts(method: string, target: string, first: string, second: string, body?: string): string {
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${first}`, `Host: ${second}`];
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

describe('two Host headers', () => {
  it.each([
    ['the same local name twice', () => [`localhost:${port}`, `localhost:${port}`]],
    ['a local name, then a foreign one', () => [`localhost:${port}`, 'attacker.example']],
    ['a foreign name, then a local one', () => ['attacker.example', `127.0.0.1:${port}`]],
  ])('on /v1 (%s): 400 invalid_request_error, connection closed, nothing upstream', async (_what, hosts) => {
    const [first, second] = hosts();
    const { response, closed } = await setup.send(twoHosts('POST', '/v1/messages', first, second, messagesBody()));
    expect(response!.status).toBe(400);
    expect(jsonBody(response!)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(jsonBody(response!).error.message).toMatch(/more than one Host header/);
    expect(header(response!, 'connection')).toBe('close');
    expect(closed).toBe(true);
    expect(setup.upstream.records).toEqual([]);
  });

  it('on an admin route: 400, and the action is not done', async () => {
    const body = '{"name":"smuggled"}';
    const { response } = await setup.send(twoHosts('POST', '/admin/keys', `localhost:${port}`, 'attacker.example', body));
    expect(response!.status).toBe(400);
    expect(setup.service.service.clientKeys.list()).toEqual([]);
  });

  it('one Host header is served as before', async () => {
    const { response } = await setup.send(
      `POST /v1/messages HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/json\r\nContent-Length: ${messagesBody().length}\r\n\r\n${messagesBody()}`,
    );
    expect(response!.status).toBe(200);
    expect(setup.upstream.records.length).toBe(1);
  });
});
