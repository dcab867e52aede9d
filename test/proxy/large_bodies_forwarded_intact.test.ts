// Large bodies are received into reused buffers (src/routes/body-buffers.ts). A body is held until
// its response is over, because failover sends it again: a buffer handed to another request too
// early would send that request's bytes the second time. Here the first provider holds every
// request of a wave until all have arrived and then fails them, so each body goes to the second
// provider after the others have been received: each must still be exactly what its client sent.
import { request } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apiKeyProvider } from '../support/harness.js';
import { startConformance, startRecordingUpstream, UPSTREAM_KEY, type ConformanceSetup, type RecordingUpstream } from '../conformance/support.js';

// Several in one size class, so a wave holds buffers of the same class at once.
const SIZES = [20_000, 32 * 1024, 40_000, 100_000, 140_000, 140_001, 200_000, 65_536, 500_000, 1024 * 1024, 1_500_000];

let setup: ConformanceSetup;
let second: RecordingUpstream;
let waveSize = SIZES.length;
beforeAll(async () => {
  second = await startRecordingUpstream();
  setup = await startConformance({
    reply: async () => {
      const target = Math.ceil(setup.upstream.records.length / waveSize) * waveSize;
      await setup.upstream.waitForRecords(target, 30_000);
      return { kind: 'json', status: 500, body: { type: 'error', error: { type: 'api_error', message: 'first provider fails' } } };
    },
    // Every wave goes to the first provider again, however it failed before.
    settings: { failure_cooldown: 0 },
    providers: (first) => [apiKeyProvider('first', first.url, UPSTREAM_KEY), apiKeyProvider('second', second.url, UPSTREAM_KEY)],
  });
});
afterAll(async () => {
  await setup.close();
  await second.close();
});

function body(size: number, fill: number): Buffer {
  const b = Buffer.alloc(size, 0x61 + (fill % 26));
  b.write(`{"n":${fill},"pad":"`);
  b.write('"}', size - 2);
  return b;
}

test('bodies of 20 KB to 1.5 MB, held in parallel and sent again on failover, reach the second provider byte for byte', { timeout: 60_000 }, async () => {
  const sent: Buffer[] = [];
  for (let wave = 0; wave < 3; wave++) {
    waveSize = SIZES.length;
    const bodies = SIZES.map((size, i) => body(size - wave * 7, wave * SIZES.length + i));
    sent.push(...bodies);
    const answers = await Promise.all(
      bodies.map((b) => request(`${setup.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b })),
    );
    for (const a of answers) {
      expect(a.statusCode).toBe(200);
      await a.body.dump();
    }
  }
  expect(setup.upstream.records).toHaveLength(sent.length);
  const received = second.records.map((r) => r.body);
  expect(received).toHaveLength(sent.length);
  for (const b of sent) expect(received.filter((r) => r.equals(b))).toHaveLength(1);
});
