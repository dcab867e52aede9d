// Node's http knows no reason phrase for 529 and wrote `HTTP/1.1 529 unknown`. Every 529 the
// service sends, its own overloaded_error or one relayed from an upstream, says Anthropic's
// `529 Overloaded`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, messagesBody, startConformance, type ConformanceSetup, type Reply } from './support.js';

const statusLine = (raw: Buffer) => raw.subarray(0, raw.indexOf('\r\n')).toString('latin1');
const OVERLOADED = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };

describe('529 responses carry the reason phrase Overloaded', () => {
  let setup: ConformanceSetup;
  let next: Reply;
  beforeAll(async () => {
    setup = await startConformance({ reply: () => next, settings: { max_inflight_body_bytes: 1024 } });
  });
  afterAll(() => setup.close());
  const host = () => `localhost:${setup.port}`;

  it('the service\'s own 529 (a body past max_inflight_body_bytes)', async () => {
    const body = messagesBody({ pad: 'x'.repeat(2048) });
    const { response } = await setup.send(httpRequest('POST', '/v1/messages', { host: host(), 'content-type': 'application/json' }, body));
    expect(statusLine(response!.raw)).toBe('HTTP/1.1 529 Overloaded');
    expect(JSON.parse(response!.body.toString('utf8')).error.type).toBe('overloaded_error');
  });

  it('an upstream 529 relayed whole', async () => {
    next = { kind: 'json', status: 529, body: OVERLOADED };
    const { response } = await setup.send(httpRequest('POST', '/v1/messages', { host: host(), 'content-type': 'application/json' }, messagesBody()));
    expect(statusLine(response!.raw)).toBe('HTTP/1.1 529 Overloaded');
    expect(JSON.parse(response!.body.toString('utf8'))).toEqual(OVERLOADED);
  });

  it('an upstream 529 too long to hold: the stand-in error of that status', async () => {
    next = { kind: 'huge', status: 529, size: 3 * 1024 * 1024 };
    const { response } = await setup.send(httpRequest('POST', '/v1/messages', { host: host(), 'content-type': 'application/json' }, messagesBody()), { timeoutMs: 20_000 });
    expect(statusLine(response!.raw)).toBe('HTTP/1.1 529 Overloaded');
    expect(JSON.parse(response!.body.toString('utf8')).error.type).toBe('api_error');
  });
});
