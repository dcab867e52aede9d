// Framing (#10.9): two Content-Length headers: which one ends the body is ambiguous. Refused, nothing reaches the upstream.
import { it } from 'vitest';
import { conformanceFixture, expectRefusedFraming, messagesBody, messagesHead, SMUGGLED } from './support.js';

const setup = conformanceFixture();

const body = messagesBody();

it.each([
  ['different values', () => [body.length, 5]],
  ['the same value twice', () => [body.length, body.length]],
])('%s: 400, closed, nothing upstream', async (_what, lengths) => {
  const [a, b] = lengths();
  await expectRefusedFraming(setup(), `${messagesHead(setup())}Content-Length: ${a}\r\nContent-Length: ${b}\r\n\r\n${body}${SMUGGLED}`);
});

it('Content-Length with a space before the colon: 400, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}Content-Length : ${body.length}\r\n\r\n${body}`);
});
