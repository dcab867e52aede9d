// Framing (#10.9): header names with characters a token may not hold (RFC 9110 §5.1). Refused, nothing reaches the upstream.
import { it } from 'vitest';
import { conformanceFixture, expectRefusedFraming, messagesBody, messagesHead, SMUGGLED } from './support.js';

const setup = conformanceFixture();

const body = messagesBody();

it.each([
  ['a space', 'Bad Name: x'],
  ['a control character', 'X-A\u0001: x'],
  ['a non-ASCII byte', 'X-\xe9: x'],
  ['no name at all', ': x'],
])('a name with %s: 400, closed, nothing upstream', async (_what, line) => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}${line}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
});
