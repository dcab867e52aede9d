import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseSse, sseEvents, startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

const streamBody = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [] });

describe('streaming responses', () => {
  let upstream: FakeAnthropic;
  let svc: RunningService;

  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    svc = await startService({ config: configWith([apiKeyProvider('primary', upstream.url)]) });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });
  beforeEach(() => upstream.reset());

  it('relays SSE events to the client while the upstream still holds the stream open', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    upstream.script({ kind: 'sse', hold });
    const res = await request(`${svc.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: streamBody,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);

    // Read until the last event before message_stop has arrived; the upstream has not finished.
    let received = '';
    const iterator = res.body[Symbol.asyncIterator]();
    while (!received.includes('event: message_delta')) {
      const { value, done } = await iterator.next();
      expect(done).toBe(false);
      received += value.toString();
    }
    expect(received).not.toContain('message_stop');
    release();
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) received += r.value.toString();
    const events = parseSse(received);
    expect(events.map((e) => e.event)).toEqual(sseEvents().map((e) => e.event));
    expect(events).toEqual(sseEvents('Hello from fake', { model: 'claude-sonnet-4-5' }).map((e) => expect.objectContaining({ event: e.event })));
  });

  it('passes the stream through byte for byte, unknown event types included', async () => {
    const events = [
      ...sseEvents(),
      { event: 'some_future_event', data: { type: 'some_future_event', payload: 'ünïcode ✓' } },
    ];
    upstream.script({ kind: 'sse', events });
    const res = await request(`${svc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: streamBody,
    });
    const text = await res.body.text();
    expect(text).toBe(events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join(''));
  });

  it('ends a stream that fails midway with an SSE error event, cleanly', async () => {
    upstream.script({ kind: 'drop', afterEvents: 3 });
    const res = await request(`${svc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: streamBody,
    });
    expect(res.statusCode).toBe(200);
    const text = await res.body.text(); // resolves only if the response ended properly
    const events = parseSse(text);
    expect(events.slice(0, 3).map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping']);
    const last = events.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.data).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  it('ends a stream whose upstream goes silent past idle_ms with an SSE error event', async () => {
    const quick = await startService({
      config: configWith([apiKeyProvider('primary', upstream.url)], { timeouts: { idle_ms: 200 } }),
    });
    try {
      let release!: () => void;
      upstream.script({ kind: 'sse', hold: new Promise<void>((r) => (release = r)) });
      const res = await request(`${quick.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: streamBody,
      });
      const events = parseSse(await res.body.text());
      release();
      expect(events.at(-1)).toMatchObject({ event: 'error', data: { error: { type: 'api_error' } } });
      expect(JSON.stringify(events.at(-1)!.data)).toContain('idle');
    } finally {
      await quick.close();
    }
  });
});
