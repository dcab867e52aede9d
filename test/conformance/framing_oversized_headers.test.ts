// Framing (#10.9): headers past Node's limit (16 KiB): refused before anything is read or forwarded.
import { expect, it } from 'vitest';
import { conformanceFixture, expectRefusedFraming, messagesBody, messagesHead, SMUGGLED } from './support.js';

const setup = conformanceFixture();

const body = messagesBody();

it('a 20 KB header: 431 (Anthropic-shaped), closed, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}X-Big: ${'a'.repeat(20_000)}\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 431);
});

it('many small headers adding up past the limit: 431, nothing upstream', async () => {
  const many = Array.from({ length: 600 }, (_, i) => `X-H${i}: ${'v'.repeat(30)}\r\n`).join('');
  await expectRefusedFraming(setup(), `${messagesHead(setup())}${many}Content-Length: ${body.length}\r\n\r\n${body}`, 431);
});

it('headers just under the limit are served', async () => {
  const { response } = await setup().send(`${messagesHead(setup())}X-Big: ${'a'.repeat(8_000)}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  expect(response!.status).toBe(200);
});
