// Many streaming requests at once, each checked to carry every SSE event in order.
import http from 'node:http';
import { DELTAS } from './options.mjs';
import { percentile, round } from './stats.mjs';

export const EXPECTED_EVENTS = [
  'message_start',
  'content_block_start',
  'ping',
  ...Array.from({ length: DELTAS }, () => 'content_block_delta'),
  'content_block_stop',
  'message_delta',
  'message_stop',
];

/** Did the SSE body carry every event, deltas tok0..tok19 in order, and nothing else? */
export function sseInOrder(text) {
  const events = text.split('\n\n').filter(Boolean);
  if (events.length !== EXPECTED_EVENTS.length) return false;
  let delta = 0;
  for (let i = 0; i < events.length; i++) {
    const m = /^event: (\S+)\ndata: (.*)$/s.exec(events[i]);
    if (!m || m[1] !== EXPECTED_EVENTS[i]) return false;
    const data = JSON.parse(m[2]);
    if (data.type !== m[1]) return false;
    if (m[1] === 'content_block_delta' && data.delta.text !== `tok${delta++} `) return false;
  }
  return delta === DELTAS;
}

/** n streaming requests started at once; each with 20 deltas, deltaDelayMs apart. */
export async function simultaneousStreams({ url, n, deltaDelayMs, headers }) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const target = new URL('/v1/messages', url);
  const one = (i) =>
    new Promise((resolvePromise) => {
      const body = JSON.stringify({
        model: 'claude-sonnet-4-5-20250929',
        max_tokens: 1024,
        stream: true,
        messages: [{ role: 'user', content: `stream ${i} ${'y'.repeat(1900)}` }],
      });
      const started = performance.now();
      let ttfb = null;
      const chunks = [];
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'anthropic-version': '2023-06-01',
            'x-bench-delta-delay-ms': String(deltaDelayMs),
            'x-claude-code-session-id': `stream-session-${i}`,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.on('data', (chunk) => {
            if (ttfb === null) ttfb = performance.now() - started;
            chunks.push(chunk);
          });
          // Checked once all streams are done, so the check does not delay the others' first bytes.
          res.on('end', () => resolvePromise({ status: res.statusCode, ttfb, body: Buffer.concat(chunks) }));
          res.on('error', (err) => resolvePromise({ error: err.message, ttfb }));
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error('timed out')));
      req.on('error', (err) => resolvePromise({ error: err.message, ttfb }));
      req.end(body);
    });
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const wallMs = performance.now() - t0;
  for (const r of results) {
    r.inOrder = r.status === 200 && !r.error && sseInOrder(r.body.toString('utf8'));
    r.body = null;
  }
  agent.destroy();
  const ttfbs = results.map((r) => r.ttfb).filter((t) => t !== null).sort((a, b) => a - b);
  const errors = results.filter((r) => r.error).map((r) => r.error);
  return {
    streams: n,
    completed: results.filter((r) => r.status === 200 && !r.error).length,
    in_order: results.filter((r) => r.inOrder).length,
    errors: errors.length,
    first_error: errors[0] ?? null,
    ttfb_p50_ms: round(percentile(ttfbs, 50)),
    ttfb_p99_ms: round(percentile(ttfbs, 99)),
    wall_ms: round(wallMs, 0),
  };
}
