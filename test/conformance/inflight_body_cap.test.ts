// Issue 10, point 5: with a slow upstream, 128 ordinary 32 MiB requests used to grow the service
// until it crashed. Request bytes held at once are capped by settings.max_inflight_body_bytes
// (default 256 MiB): past it a new request gets 529 overloaded_error with retry-after, the last
// sixteenth of the cap stays open to small bodies, and a chunked body is counted while it arrives.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { alive, MiB, messagesHead, sendBig, startBigBodySetup, type BigBodySetup } from './big-bodies.js';
import { header, jsonBody, messagesBody, RawClient, type RawResponse } from './support.js';

const OVERLOADED = {
  type: 'error',
  error: {
    type: 'overloaded_error',
    message: 'The balancer is holding as many request bytes as settings.max_inflight_body_bytes allows; retry shortly.',
  },
};

function expectOverloaded(res: RawResponse) {
  expect(res.status).toBe(529);
  expect(header(res, 'retry-after')).toBe('1');
  expect(jsonBody(res)).toEqual(OVERLOADED);
}

/** An upstream that holds every request until open() is called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, reply: async () => (await opened, { kind: 'json' as const }) };
}

describe('the default cap (256 MiB), 128 concurrent 32 MiB bodies against a slow upstream', () => {
  const SIZE = 32 * MiB - 1024;
  const body = Buffer.alloc(SIZE, 0x20);
  body.write('{"model":"m","pad":"');
  body.write('"}', SIZE - 2);
  const upstreamGate = gate();
  let setup: BigBodySetup;
  beforeAll(async () => {
    setup = await startBigBodySetup({}, upstreamGate.reply);
  }, 90_000);
  afterAll(() => setup?.close());

  test('seven are taken, the other 121 get 529 with retry-after, a small request is answered meanwhile, the service stays up', { timeout: 240_000 }, async () => {
    const big = Array.from({ length: 128 }, () => sendBig(setup.service.url, messagesHead(SIZE), body, 180_000));
    // The 121 refusals come right after their heads; the seven taken wait on the upstream.
    await setup.upstream.waitForRecords(7, 120_000);

    const started = performance.now();
    const small = request(`${setup.service.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: messagesBody({ max_tokens: 3 }),
      headersTimeout: 60_000,
    });
    await setup.upstream.waitForRecords(8, 60_000);
    upstreamGate.open();
    const smallRes = await small;
    const smallMs = performance.now() - started;
    expect(smallRes.statusCode).toBe(200);
    await smallRes.body.dump();
    console.log(`[inflight_body_cap] small request answered in ${smallMs.toFixed(0)} ms (upstream held until it arrived)`);

    const answers = await Promise.all(big);
    expect(answers.filter((a) => a.failure)).toEqual([]);
    const ok = answers.filter((a) => a.response!.status === 200);
    const refused = answers.filter((a) => a.response!.status !== 200);
    expect(ok).toHaveLength(7);
    expect(refused).toHaveLength(121);
    for (const a of refused) expectOverloaded(a.response!);

    // Only the seven taken bodies and the small one reached the upstream, the big ones whole.
    expect(setup.upstream.records).toHaveLength(8);
    expect(setup.upstream.records.filter((r) => r.body.equals(body))).toHaveLength(7);

    expect(alive(setup.service)).toBe(true);
    // Every byte was given back: a body as large as the cap allows at once is taken again.
    const again = await sendBig(setup.service.url, messagesHead(SIZE), body, 60_000);
    expect(again.response?.status).toBe(200);
  });
});

describe('a smaller cap, chunked bodies', () => {
  const upstreamGate = gate();
  let setup: BigBodySetup;
  beforeAll(async () => {
    setup = await startBigBodySetup({ max_inflight_body_bytes: 8 * MiB }, upstreamGate.reply);
  }, 90_000);
  afterAll(() => setup?.close());

  const chunk = (data: Buffer) => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);

  test('a chunked body is counted while it arrives: refused with 529 before its last chunk once it passes the cap', { timeout: 120_000 }, async () => {
    // 6 MiB held (its upstream waits), then a second body: its first MiB fits, its second does not.
    const first = await RawClient.connect(setup.service.url);
    await first.write(Buffer.concat([messagesHead(undefined), chunk(Buffer.from('{"pad":"')), chunk(Buffer.alloc(6 * MiB, 0x61)), chunk(Buffer.from('"}')), Buffer.from('0\r\n\r\n')]));
    await setup.upstream.waitForRecords(1, 60_000);

    const second = await RawClient.connect(setup.service.url);
    await second.write(Buffer.concat([messagesHead(undefined), chunk(Buffer.from('{"pad":"')), chunk(Buffer.alloc(1 * MiB, 0x62))]));
    await second.write(chunk(Buffer.alloc(1 * MiB, 0x62)));
    // No last chunk has been sent: the answer comes from counting what arrived.
    expectOverloaded(await second.read({ timeoutMs: 30_000 }));
    second.destroy();

    upstreamGate.open();
    expect((await first.read({ timeoutMs: 30_000 })).status).toBe(200);
    first.destroy();
    expect(setup.upstream.records).toHaveLength(1);
    expect(alive(setup.service)).toBe(true);
  });
});
