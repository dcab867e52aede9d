// Framing (#10.9): Content-Length and Transfer-Encoding together: the two readings of where the body ends would let a second request hide in the body. Refused, nothing reaches the upstream.
import { expect, it } from 'vitest';
import { conformanceFixture, expectRefusedFraming, messagesBody, messagesHead, SMUGGLED } from './support.js';

const setup = conformanceFixture();

const body = messagesBody();

it('Content-Length with Transfer-Encoding: chunked: 400, closed, nothing upstream (no smuggled request)', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}Content-Length: ${body.length + SMUGGLED.length + 5}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}${body}`);
});

it('Transfer-Encoding that is not chunked last: 400, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`);
});

it('a well-framed chunked body is served', async () => {
  const { response } = await setup().send(`${messagesHead(setup())}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
  expect(response!.status).toBe(200);
  expect(setup().upstream.records.map((r) => r.body.toString())).toEqual([body]);
});
