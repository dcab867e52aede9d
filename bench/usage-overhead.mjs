// The CPU the usage accounting adds per request, measured in-process (issue 13): the SSE tap over
// the bench upstream's 20-delta stream, the JSON tap over its ~600 B message, and the count into
// the usage store, /metrics counters and the activity feed (nobody listening, as usual).
// Run after `npm run build`: node bench/usage-overhead.mjs
import { MemoryTokenStore } from '../dist/store/memory-store.js';
import { UsageAccounting } from '../dist/usage/usage-accounting.js';
import { usageTapFor } from '../dist/usage/usage-tap.js';
import { ActivityFeed } from '../dist/activity/activity-feed.js';
import { Metrics } from '../dist/metrics/prometheus.js';
import { PoolEvents } from '../dist/oauth/pool-events.js';

const N = 200_000;
const usage = { input_tokens: 2048, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
const sse = [
  `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } })}\n\n`,
  `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
  ...Array.from({ length: 20 }, (_, i) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok${i} "}}\n\n`),
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
  `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { ...usage, output_tokens: 20 } })}\n\n`,
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
].map((s) => Buffer.from(s));
const json = Buffer.from(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'x'.repeat(400) }], stop_reason: 'end_turn', stop_sequence: null, usage: { ...usage, output_tokens: 100 } }));

const log = { warn() {}, info() {}, error() {}, debug() {} };
const clock = { now: () => Date.now(), setTimeout: () => null, clearTimeout() {} };
const accounting = new UsageAccounting(new MemoryTokenStore(), log, new ActivityFeed(), clock);
await accounting.init();
const pool = { clock, list: () => [], events: new PoolEvents() };
new Metrics(accounting, pool);
const end = (u) => ({ provider: 'Claude Code Official', account: `a${Math.floor(Math.random() * 2)}@example.com`, key: undefined, status: 200, error: undefined, usage: u, ttfbMs: 12.3, totalMs: 40.1 });

function measure(name, fn) {
  for (let i = 0; i < 20_000; i++) fn();
  const results = [];
  for (let round = 0; round < 5; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    const used = process.cpuUsage(before);
    results.push(((used.user + used.system) / N).toFixed(2));
  }
  console.log(`${name}: ${results.join(' / ')} µs CPU per request (5 rounds of ${N})`);
}

measure('SSE tap (25 events)', () => {
  const tap = usageTapFor({ 'content-type': 'text/event-stream' }, true);
  for (const c of sse) tap.feed(c);
  tap.result();
});
measure('JSON tap (~600 B)', () => {
  const tap = usageTapFor({ 'content-type': 'application/json' }, false);
  tap.feed(json);
  tap.result();
});
measure('SSE tap + count (store, metrics)', () => {
  const tap = usageTapFor({ 'content-type': 'text/event-stream' }, true);
  for (const c of sse) tap.feed(c);
  accounting.requestEnded(end(tap.result()));
});
