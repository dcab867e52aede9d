// Framing (#10.9): a header continued on the next line (obs-fold, RFC 9112 §5.2): servers disagree on it. Refused, nothing reaches the upstream.
import { it } from 'vitest';
import { conformanceFixture, expectRefusedFraming, messagesBody, messagesHead, SMUGGLED } from './support.js';

const setup = conformanceFixture();

const body = messagesBody();

it('a folded header line: 400, closed, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}X-Folded: a\r\n b\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
});

it('a folded Transfer-Encoding: 400, nothing upstream', async () => {
  await expectRefusedFraming(setup(), `${messagesHead(setup())}Content-Length: ${body.length}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n${body}`);
});
