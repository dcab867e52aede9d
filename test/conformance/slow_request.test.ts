// Attack (#10.6): slow request bodies never timed out, so a few hundred of them held the service.
// A request whose headers and body have not all arrived within timeouts.request_ms gets 408 and
// is closed; nothing of it reaches the upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header, jsonBody, RawReadError, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
beforeAll(async () => {
  setup = await startConformance({ settings: { timeouts: { request_ms: 300 } } });
});
afterAll(() => setup.close());

async function answerTo(bytes: string) {
  const client = await setup.connect();
  await client.write(bytes);
  try {
    const response = await client.read({ timeoutMs: 10_000 });
    return { response, closed: await client.waitClosed(5000) };
  } catch (err) {
    if (err instanceof RawReadError) return { response: undefined, closed: err.closed };
    throw err;
  } finally {
    client.destroy();
  }
}

describe('a request that has not fully arrived within timeouts.request_ms', () => {
  it.each([
    ['the body stops halfway', () => `POST /v1/messages HTTP/1.1\r\nHost: localhost:${setup.port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`],
    ['a chunked body never ends', () => `POST /v1/messages HTTP/1.1\r\nHost: localhost:${setup.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"mod\r\n`],
    ['the headers never end', () => `POST /v1/messages HTTP/1.1\r\nHost: localhost:${setup.port}\r\nContent-Type: appl`],
  ])('%s: 408 invalid_request_error, connection closed, nothing upstream', async (_what, bytes) => {
    const { response, closed } = await answerTo(bytes());
    expect(response!.status).toBe(408);
    expect(jsonBody(response!)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(jsonBody(response!).error.message).toMatch(/timeouts\.request_ms/);
    expect(header(response!, 'connection')).toBe('close');
    expect(closed).toBe(true);
    expect(setup.upstream.records).toEqual([]);
  });
});
