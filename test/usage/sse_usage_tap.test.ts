// The SSE tap reads usage however the stream is cut into chunks, skips what it does not know,
// and keeps no line longer than its bound.
import { describe, expect, it } from 'vitest';
import { formatSse, sseEvents, messageBody } from '../fakes/fake-anthropic.js';
import { JsonUsageTap, SseUsageTap } from '../../src/usage/usage-tap.js';

const USAGE = { input_tokens: 25, output_tokens: 611, cache_creation_input_tokens: 3, cache_read_input_tokens: 90 };
const EXPECTED = { input: 25, output: 611, cache_creation: 3, cache_read: 90 };
const stream = () => Buffer.from(sseEvents('a b c', { model: 'claude-haiku-4-5', usage: USAGE }).map(formatSse).join(''));

function tapInPieces(bytes: Buffer, size: number) {
  const tap = new SseUsageTap();
  for (let i = 0; i < bytes.length; i += size) tap.feed(bytes.subarray(i, i + size));
  return tap.result();
}

describe('SSE usage tap', () => {
  it('reads message_start and the cumulative message_delta, whatever the chunking', () => {
    const bytes = stream();
    for (const size of [1, 2, 7, 64, bytes.length]) {
      expect(tapInPieces(bytes, size), `chunks of ${size}`).toEqual({ model: 'claude-haiku-4-5', tokens: EXPECTED, streamError: false });
    }
  });

  it('reads CRLF streams and data-only events, and ignores unknown events', () => {
    const text =
      'event: future_event\r\ndata: {"type":"message_delta","usage":{"output_tokens":999}}\r\n\r\n' +
      'data: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":4,"output_tokens":1}}}\r\n\r\n' +
      'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":9}}\r\n\r\n';
    expect(tapInPieces(Buffer.from(text), 5)).toEqual({ model: 'm', tokens: { input: 4, output: 9, cache_creation: 0, cache_read: 0 }, streamError: false });
  });

  it('notes an error event, and skips a line longer than its bound without holding it', () => {
    const huge = 'x'.repeat(200 * 1024);
    const text =
      `data: {"type":"content_block_delta","delta":{"text":"${huge}"}}\n\n` +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":9}}\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    const tap = new SseUsageTap();
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += 1000) {
      tap.feed(bytes.subarray(i, i + 1000));
      expect((tap as any).lineLength).toBeLessThanOrEqual(64 * 1024 + 1000);
    }
    expect(tap.result()).toEqual({ model: undefined, tokens: { input: 0, output: 9, cache_creation: 0, cache_read: 0 }, streamError: true });
  });
});

describe('JSON usage tap', () => {
  it('reads usage and model of a body, and of one past its whole-body bound from the tail', () => {
    const small = new JsonUsageTap();
    small.feed(Buffer.from(JSON.stringify(messageBody({ model: 'claude-opus-4-1', usage: USAGE }))));
    expect(small.result()).toEqual({ model: 'claude-opus-4-1', tokens: EXPECTED, streamError: false });

    const body = Buffer.from(JSON.stringify(messageBody({ model: 'claude-opus-4-1', text: 'w "usage": { '.repeat(200_000), usage: USAGE })));
    const large = new JsonUsageTap();
    for (let i = 0; i < body.length; i += 16_384) large.feed(body.subarray(i, i + 16_384));
    expect((large as any).length).toBeLessThan(64 * 1024);
    expect(large.result()).toEqual({ model: 'claude-opus-4-1', tokens: EXPECTED, streamError: false });
  });
});
