// Attack (#10.7): an upstream that sends 200 headers and then goes quiet on a non-streaming
// response left the client with a reset and no status line. Until the first body byte has gone
// to the client, it is a failure like any other: failed over, or a clean 504 api_error.
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeyProvider } from '../support/harness.js';
import { header, httpRequest, jsonBody, messagesBody, startConformance, startRecordingUpstream, UPSTREAM_KEY, type ConformanceSetup, type RecordingUpstream } from './support.js';

let setup: ConformanceSetup | undefined;
let second: RecordingUpstream | undefined;
afterEach(async () => {
  await setup?.close();
  await second?.close();
  setup = second = undefined;
});

const settings = { timeouts: { idle_ms: 300 } };
const post = (s: ConformanceSetup) =>
  httpRequest('POST', '/v1/messages', { host: `localhost:${s.port}`, 'content-type': 'application/json' }, messagesBody());

describe('200 headers, then no body for timeouts.idle_ms', () => {
  it('the only provider: a clean 504 api_error, and the upstream request is ended', async () => {
    setup = await startConformance({ settings, reply: () => ({ kind: 'stall', status: 200 }) });
    const { response } = await setup.send(post(setup));
    expect(response!.status).toBe(504);
    expect(header(response!, 'content-type')).toBe('application/json');
    expect(jsonBody(response!)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(jsonBody(response!).error.message).toMatch(/did not answer in time/);
    await setup.upstream.waitForAbort(0);
  });

  it('another provider: the request is failed over and served there', async () => {
    second = await startRecordingUpstream();
    const next = second;
    setup = await startConformance({
      settings,
      reply: () => ({ kind: 'stall', status: 200 }),
      providers: (first) => [apiKeyProvider('stalls', first.url, UPSTREAM_KEY), apiKeyProvider('serves', next.url, UPSTREAM_KEY)],
    });
    const { response } = await setup.send(post(setup));
    expect(response!.status).toBe(200);
    expect(header(response!, 'x-balancer-provider')).toBe('serves');
    expect(jsonBody(response!).id).toBe('msg_conformance');
    expect(setup.upstream.records.length).toBe(1);
    expect(second.records.length).toBe(1);
  });

});
