// Attack (#10.7): upstream error bodies were decoded as UTF-8 (a gzip-encoded error reached the
// client corrupted) and cut at 1 MiB (invalid JSON). Error bodies must reach the client as the
// very bytes the upstream sent, whatever their encoding and size.
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { header, httpRequest, hugeBytes, messagesBody, startConformance, type ConformanceSetup, type Reply } from './support.js';

let setup: ConformanceSetup;
let next: Reply;
beforeAll(async () => {
  setup = await startConformance({ reply: () => next });
});
afterAll(() => setup.close());
beforeEach(() => {
  setup.upstream.records.length = 0;
});

const post = () => httpRequest('POST', '/v1/messages', { host: `localhost:${setup.port}`, 'content-type': 'application/json' }, messagesBody());
const ERROR = { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: ünïcödé is not a number' } };

describe('an upstream error body reaches the client byte for byte', () => {
  it.each([400, 404, 529])('gzip-encoded %i: the same compressed bytes, still content-encoding gzip', async (status) => {
    next = { kind: 'gzip', status, body: ERROR };
    const { response } = await setup.send(post());
    expect(response!.status).toBe(status);
    expect(header(response!, 'content-encoding')).toBe('gzip');
    expect(response!.body.equals(gzipSync(Buffer.from(JSON.stringify(ERROR))))).toBe(true);
    expect(JSON.parse(gunzipSync(response!.body).toString('utf8'))).toEqual(ERROR);
    expect(setup.upstream.records.length).toBe(1);
  });

  it('not valid UTF-8: the same bytes', async () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7d]);
    next = { kind: 'bytes', status: 400, body: bytes, headers: { 'content-type': 'application/json' } };
    const { response } = await setup.send(post());
    expect(response!.status).toBe(400);
    expect(response!.body.equals(bytes)).toBe(true);
  });

  it('3 MiB (past the old 1 MiB cut): every byte, streamed', async () => {
    const size = 3 * 1024 * 1024 + 17;
    next = { kind: 'huge', status: 400, size };
    const { response } = await setup.send(post(), { timeoutMs: 20_000 });
    expect(response!.status).toBe(400);
    expect(response!.body.length).toBe(size);
    expect(response!.body.equals(hugeBytes(size))).toBe(true);
  });
});

describe('an error too large to hold while others are tried', () => {
  it('a 3 MiB 5xx that is failed over from: the client gets a clean error of that status, never cut bytes', async () => {
    next = { kind: 'huge', status: 500, size: 3 * 1024 * 1024 };
    const { response } = await setup.send(post(), { timeoutMs: 20_000 });
    expect(response!.status).toBe(500);
    expect(JSON.parse(response!.body.toString('utf8'))).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(Number(header(response!, 'content-length'))).toBe(response!.body.length);
  });
});
