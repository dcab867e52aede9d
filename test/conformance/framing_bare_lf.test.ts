// Framing (#10.9): lines ended by a bare LF instead of CRLF: a front proxy may split them differently. Refused, nothing reaches the upstream.
import { it } from 'vitest';
import { conformanceFixture, expectRefusedFraming, messagesBody, messagesHead, SMUGGLED } from './support.js';

const setup = conformanceFixture();

const body = messagesBody();

it('a whole request with LF line ends: 400, closed, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup(), '\n')}Content-Length: ${body.length}\n\n${body}`);
});

it('one header line ended by a bare LF: 400, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}X-A: 1\nContent-Length: ${body.length}\r\n\r\n${body}`);
});
