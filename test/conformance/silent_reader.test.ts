// Attack (#10.6): a client that reads nothing of its response kept the response, and the
// upstream request behind it, open for good. After timeouts.idle_ms without reading it is
// dropped and its upstream request aborted.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { httpRequest, messagesBody, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
beforeAll(async () => {
  // 256 MiB: far more than socket buffers hold, and the fake streams it only as fast as it is read.
  setup = await startConformance({ settings: { timeouts: { idle_ms: 300 } }, reply: () => ({ kind: 'huge', size: 256 * 1024 * 1024 }) });
});
afterAll(() => setup.close());

it('a client that stops reading is disconnected and the upstream request is aborted', async () => {
  const client = await setup.connect();
  client.pause();
  await client.write(httpRequest('POST', '/v1/messages', { host: `localhost:${setup.port}`, 'content-type': 'application/json' }, messagesBody()));
  await setup.upstream.waitForRecords(1);
  await setup.upstream.waitForAbort(0, 15_000);
  client.resume();
  expect(await client.waitClosed(15_000)).toBe(true);
  client.destroy();
}, 40_000);
