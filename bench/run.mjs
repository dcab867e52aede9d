#!/usr/bin/env node
// The performance benchmark of claude-code-balancer (`npm run bench`; see BENCHMARKS.md).
//
// Starts bench/upstream.mjs (a fake api.anthropic.com plus a tiny fake OAuth server) and the real
// service (`node dist/cli.js serve`), then measures, in one run and in alternating rounds, the same
// load sent straight to the upstream and through the service:
//   - non-streaming and streaming req/s and p50/p99 latency (wrk, 50 connections, a distinct 2 KB
//     body per request) and the service's CPU time per proxied request (/proc/<pid>/stat);
//   - 1,000 simultaneous streams with 20 ms between deltas: all complete, every event in order,
//     time to first byte p50/p99, the service's peak RSS (VmHWM);
//   - a soak of 100,000 requests (on a service of its own): RSS after it against RSS after the
//     first 10,000;
//   - the throughput runs again with an OAuth provider whose pool holds two accounts, logged in
//     through the service's admin API and the fake OAuth server, so the scheduler's cost shows.
// The service is pinned to core 1, the load generator, upstream and this runner to core 0; INFO
// logging on, to a file. A round during which other processes took more than a quarter of a core
// it uses is measured again (at most 3 tries). Prints a table, writes bench/results.json and exits
// 1 when a budget is missed (full runs only).
//
//   node bench/run.mjs [--smoke] [--out FILE] [--rounds N] [--duration S] [--no-oauth] [--keep-logs]
//                      [--only throughput,streams,soak]
//
// --smoke runs a tiny load (seconds, not minutes) to check that the harness works end to end;
// its results go to a temporary file unless --out is given. Environment: BENCH_NODE_ARGS adds
// node flags to the service (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"); BENCH_CLI runs another
// build of the service (the cli.js of an older checkout's dist/, to compare).
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const CLI = resolve(process.env.BENCH_CLI ?? join(ROOT, 'dist', 'cli.js'));
const LUA = join(BENCH_DIR, 'load.lua');
/** Must equal BENCH_API_KEY of upstream.mjs, which runs as its own process. */
const BENCH_API_KEY = 'bench-fake-api-key-not-a-secret-0123456789abcdefghijklmnopqrs';
/** What a client sends to the service: it replaces the credential, so any value of the same size will do. */
const CLIENT_API_KEY = 'bench-fake-client-key-placeholder-0123456789abcdefghijklmnop';
const CLIENT_BETA = 'claude-code-20250219';
const OAUTH_BETA = 'oauth-2025-04-20';
const DELTAS = 20;

const { values: opts } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    'no-oauth': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
  strict: true,
});

const PLAN = opts.smoke
  ? { rounds: 1, duration: 1, warmup: 1, connections: 10, streams: 20, deltaDelayMs: 20, soakFirst: 500, soakTotal: 2000 }
  : { rounds: 3, duration: 6, warmup: 5, connections: 50, streams: 1000, deltaDelayMs: 20, soakFirst: 10_000, soakTotal: 100_000 };
if (opts.rounds) PLAN.rounds = Math.max(1, Number(opts.rounds));
if (opts.duration) PLAN.duration = Math.max(1, Number(opts.duration));
const PHASES = new Set((opts.only ?? 'throughput,streams,soak').split(',').map((s) => s.trim()));
const OUT = resolve(opts.out ?? (opts.smoke ? join(os.tmpdir(), `ccb-bench-smoke-${process.pid}.json`) : join(BENCH_DIR, 'results.json')));

const BUDGETS = {
  non_streaming_ratio_min: 0.35,
  streaming_ratio_min: 0.3,
  cpu_ms_per_request_max: 0.16,
  streams_ttfb_p99_over_direct_ms_max: 1000,
  streams_peak_rss_mb_max: 200,
  soak_rss_growth_mb_max: 20,
};

// ---- small helpers --------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, digits = 2) => (x === null || x === undefined ? null : Math.round(x * 10 ** digits) / 10 ** digits);
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const log = (line) => process.stderr.write(`${line}\n`);

let pinned = false;
function pinned0(cmd, args) {
  return pinned ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in ms. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Busy time of one core so far, in ms (user+nice+system+irq+softirq+steal of /proc/stat). */
function coreBusyMs(core) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) return 0;
  const f = line.split(/\s+/).slice(1).map(Number);
  return ((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 1000) / CLK_TCK;
}

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM). */
function statusMb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : null;
}

/** Resets VmHWM to the current RSS (Linux clear_refs 5), so a phase's own peak can be read. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  let wrkVersion = null;
  try {
    execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    wrkVersion = /wrk\s+(\S+)/.exec(`${err.stdout ?? ''}`)?.[1] ?? null;
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    wrk: wrkVersion,
    kernel: os.release(),
    load_average_at_start: os.loadavg().map((x) => round(x, 2)),
    memory_gb: round(os.totalmem() / 2 ** 30, 1),
  };
}

// ---- processes ------------------------------------------------------------------------------

const children = new Set();
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function waitForLine(stream, pattern, timeoutMs, what) {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const on = (chunk) => {
      text += chunk;
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        stream.off('data', on);
        resolvePromise(m);
      }
    };
    stream.on('data', on);
    stream.once('end', () => {
      clearTimeout(timer);
      reject(new Error(`${what} exited before it was ready:\n${text}`));
    });
  });
}

async function startUpstream() {
  const [cmd, args] = pinned0(process.execPath, [join(BENCH_DIR, 'upstream.mjs')]);
  const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  child.stdout.setEncoding('utf8');
  const m = await waitForLine(child.stdout, /^(\{.*\})$/m, 10_000, 'the fake upstream');
  const { port } = JSON.parse(m[1]);
  return {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.stdin.end();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

async function startService(config, dir, name) {
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, JSON.stringify(config, null, 2)); // JSON is YAML
  const logPath = join(dir, `${name}.log`);
  const logFd = openSync(logPath, 'w');
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, CLI, 'serve', '--config', configPath, '--port', '0'];
  const child = track(
    pinned
      ? spawn('taskset', ['-c', '1', process.execPath, ...args], { cwd: dir, stdio: ['ignore', logFd, 'pipe'] })
      : spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', logFd, 'pipe'] }),
  );
  closeSync(logFd);
  child.stderr.setEncoding('utf8');
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 100_000) stderr += d;
  });
  const m = await waitForLine(child.stderr, /listening on (http:\/\/\S+)/, 20_000, 'the service');
  return {
    child,
    pid: child.pid,
    url: m[1],
    logPath,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Lines (requests logged) in the service's log file. */
async function countLines(path) {
  let lines = 0;
  let requestLines = 0;
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = tail + chunk;
    const parts = text.split('\n');
    tail = parts.pop();
    lines += parts.length;
    for (const p of parts) if (p.includes('"msg":"request"')) requestLines++;
  }
  return { lines, requestLines };
}

// ---- load: wrk --------------------------------------------------------------------------------

/**
 * One wrk run: POST /v1/messages with distinct 2 KB bodies. With limit, wrk is stopped once that
 * many responses have come back (the Lua script says so on stdout).
 */
function runWrk({ url, mode, auth, beta, durationS, connections, limit = 0 }) {
  const wrkArgs = [
    '-t1',
    `-c${connections}`,
    `-d${durationS}s`,
    '--timeout',
    '10s',
    '-s',
    LUA,
    url,
    '--',
    mode,
    auth[0],
    auth[1],
    beta ?? '-',
    String(limit),
  ];
  const [cmd, args] = pinned0('wrk', wrkArgs);
  return new Promise((resolvePromise, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    let signalled = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      if (!signalled && out.includes('LIMIT_REACHED')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    // wrk's own CPU time, sampled until it exits (a lower bound by at most one interval).
    let wrkCpuMs = 0;
    const sampler = setInterval(() => {
      try {
        wrkCpuMs = cpuMs(child.pid);
      } catch {
        // exited
      }
    }, 200);
    child.on('exit', (code) => {
      clearInterval(sampler);
      const m = /^WRK_JSON (.*)$/m.exec(out);
      if (!m) return reject(new Error(`wrk failed (exit ${code}):\n${out}\n${err}`));
      const r = JSON.parse(m[1]);
      const e = r.errors;
      r.error_count = e.connect + e.read + e.write + e.status + e.timeout;
      r.rps = r.requests / (r.duration_us / 1e6);
      r.wrk_cpu_ms = wrkCpuMs;
      resolvePromise(r);
    });
  });
}

// ---- load: simultaneous streams ------------------------------------------------------------------

const EXPECTED_EVENTS = [
  'message_start',
  'content_block_start',
  'ping',
  ...Array.from({ length: DELTAS }, () => 'content_block_delta'),
  'content_block_stop',
  'message_delta',
  'message_stop',
];

/** Did the SSE body carry every event, deltas tok0..tok19 in order, and nothing else? */
function sseInOrder(text) {
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
async function simultaneousStreams({ url, n, deltaDelayMs, headers }) {
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

// ---- phases -------------------------------------------------------------------------------------

/** Other processes' share of a core above which a round is measured again (full runs). */
const NOISY_PCT = 25;
const MAX_TRIES = opts.smoke ? 1 : 3;

/**
 * Starts measuring what other processes on this machine took from each core: core 0 (load
 * generator, upstream, this runner) and core 1 (the service). Returns a function that ends the
 * measurement, given the CPU time of short-lived load processes (wrk) that ran on core 0.
 */
function startNoiseMeter(upstreamPid, servicePid) {
  const t0 = performance.now();
  const service0 = servicePid ? cpuMs(servicePid) : 0;
  const upstream0 = cpuMs(upstreamPid);
  const self0 = process.cpuUsage();
  const core0 = coreBusyMs(0);
  const core1 = coreBusyMs(1);
  return (extraCore0Ms = 0) => {
    const wall = performance.now() - t0;
    const serviceCpuMs = servicePid ? cpuMs(servicePid) - service0 : 0;
    const self = process.cpuUsage(self0);
    const ours0 = extraCore0Ms + (cpuMs(upstreamPid) - upstream0) + (self.user + self.system) / 1000;
    const pct = (ms) => round(Math.max(0, (100 * ms) / wall), 0);
    const other = pinned ? { load_core: pct(coreBusyMs(0) - core0 - ours0), service_core: pct(coreBusyMs(1) - core1 - serviceCpuMs) } : null;
    return { serviceCpuMs, other };
  };
}

/** What disturbed a measurement, if anything: other processes on a core it uses. */
function disturbance(entry, target) {
  const o = entry.other_load_pct;
  const reasons = [];
  if (o && o.load_core > NOISY_PCT) reasons.push(`other processes took ${o.load_core}% of core 0`);
  if (o && target === 'service' && o.service_core > NOISY_PCT) reasons.push(`other processes took ${o.service_core}% of core 1`);
  return reasons;
}

function describeNoise(entry) {
  const o = entry.other_load_pct;
  if (!o) return '';
  const tries = entry.tries > 1 ? `, ${entry.tries} tries` : '';
  return ` [other processes: core 0 ${o.load_core}%, core 1 ${o.service_core}%${tries}]`;
}

/**
 * Runs a measurement, and again (at most MAX_TRIES in all) while other processes on this machine
 * took more than NOISY_PCT of a core it uses; keeps the least disturbed try.
 */
async function withQuietRetries(what, target, measure) {
  let best;
  for (let tries = 1; tries <= MAX_TRIES; tries++) {
    const entry = await measure();
    const reasons = disturbance(entry, target);
    const noise = entry.other_load_pct ? Math.max(entry.other_load_pct.load_core, target === 'service' ? entry.other_load_pct.service_core : 0) : 0;
    if (!best || noise < best.noise) best = { entry, noise };
    best.entry.tries = tries;
    if (reasons.length === 0) break;
    if (tries < MAX_TRIES) {
      log(`${what}: ${reasons.join('; ')}: measuring again`);
      await sleep(3000);
    }
  }
  return best.entry;
}

/**
 * Throughput rounds: for each round, non-streaming then streaming, direct and through the
 * service in alternating order (direct first in even rounds, service first in odd ones).
 */
async function throughput({ upstream, service, directAuth, directBeta, serviceAuth, serviceBeta, label }) {
  const run = (target, mode, durationS) =>
    runWrk({
      url: target === 'direct' ? upstream.url : service.url,
      mode,
      auth: target === 'direct' ? directAuth : serviceAuth,
      beta: target === 'direct' ? directBeta : serviceBeta,
      durationS,
      connections: PLAN.connections,
    });
  log(`[${label}] warm-up`);
  for (const mode of ['json', 'stream']) for (const target of ['direct', 'service']) await run(target, mode, PLAN.warmup);

  const rounds = { json: { direct: [], service: [] }, stream: { direct: [], service: [] } };
  for (let r = 0; r < PLAN.rounds; r++) {
    const order = r % 2 === 0 ? ['direct', 'service'] : ['service', 'direct'];
    for (const mode of ['json', 'stream']) {
      for (const target of order) {
        const what = `[${label}] round ${r + 1} ${mode === 'json' ? 'non-streaming' : 'streaming'} ${target}`;
        const entry = await withQuietRetries(what, target, async () => {
          const meter = startNoiseMeter(upstream.pid, service.pid);
          const res = await run(target, mode, PLAN.duration);
          const { serviceCpuMs, other } = meter(res.wrk_cpu_ms);
          return {
            rps: round(res.rps, 1),
            requests: res.requests,
            p50_ms: round(res.latency_us.p50 / 1000, 3),
            p99_ms: round(res.latency_us.p99 / 1000, 3),
            errors: res.error_count,
            ...(target === 'service' ? { cpu_ms: round(serviceCpuMs, 0), cpu_ms_per_request: round(serviceCpuMs / res.requests, 4) } : {}),
            other_load_pct: other,
          };
        });
        rounds[mode][target].push(entry);
        log(
          `${what}: ${entry.rps} req/s, p50 ${entry.p50_ms} ms, p99 ${entry.p99_ms} ms` +
            (entry.cpu_ms_per_request !== undefined ? `, CPU ${entry.cpu_ms_per_request} ms/req` : '') +
            (entry.errors ? `, ${entry.errors} ERRORS` : '') +
            describeNoise(entry),
        );
      }
    }
  }
  const summarize = (list, withCpu) => ({
    rounds: list,
    median: {
      rps: round(median(list.map((x) => x.rps)), 1),
      p50_ms: round(median(list.map((x) => x.p50_ms)), 3),
      p99_ms: round(median(list.map((x) => x.p99_ms)), 3),
      errors: list.reduce((a, x) => a + x.errors, 0),
      ...(withCpu ? { cpu_ms_per_request: round(median(list.map((x) => x.cpu_ms_per_request)), 4) } : {}),
    },
  });
  const result = {};
  for (const [mode, key] of [
    ['json', 'non_streaming'],
    ['stream', 'streaming'],
  ]) {
    const direct = summarize(rounds[mode].direct, false);
    const through = summarize(rounds[mode].service, true);
    result[key] = { direct, service: through, ratio: round(through.median.rps / direct.median.rps, 3) };
  }
  return result;
}

async function concurrentStreams({ upstream, service }) {
  const rounds = { direct: [], service: [] };
  let peakResetWorks = true;
  log('[streams] warm-up');
  for (const target of ['direct', 'service']) {
    await simultaneousStreams({
      url: target === 'direct' ? upstream.url : service.url,
      n: Math.min(PLAN.streams, 200),
      deltaDelayMs: PLAN.deltaDelayMs,
      headers: { 'x-api-key': target === 'direct' ? BENCH_API_KEY : CLIENT_API_KEY },
    });
  }
  await sleep(300);
  for (let r = 0; r < PLAN.rounds; r++) {
    const order = r % 2 === 0 ? ['direct', 'service'] : ['service', 'direct'];
    for (const target of order) {
      const what = `[streams] round ${r + 1} ${target}`;
      const res = await withQuietRetries(what, target, async () => {
        if (target === 'service') peakResetWorks = resetPeak(service.pid) && peakResetWorks;
        const meter = startNoiseMeter(upstream.pid, target === 'service' ? service.pid : null);
        const result = await simultaneousStreams({
          url: target === 'direct' ? upstream.url : service.url,
          n: PLAN.streams,
          deltaDelayMs: PLAN.deltaDelayMs,
          headers: target === 'direct' ? { 'x-api-key': BENCH_API_KEY } : { 'x-api-key': CLIENT_API_KEY },
        });
        result.other_load_pct = meter().other;
        if (target === 'service') result.peak_rss_mb = round(statusMb(service.pid, 'VmHWM'), 1);
        await sleep(300);
        return result;
      });
      rounds[target].push(res);
      log(
        `${what}: ${res.completed}/${res.streams} complete, ${res.in_order} in order, TTFB p50 ${res.ttfb_p50_ms} ms p99 ${res.ttfb_p99_ms} ms` +
          (res.peak_rss_mb !== undefined ? `, peak RSS ${res.peak_rss_mb} MB` : '') +
          (res.errors ? `, ${res.errors} errors (${res.first_error})` : '') +
          describeNoise(res),
      );
    }
  }
  const summarize = (list) => ({
    rounds: list,
    median: {
      ttfb_p50_ms: round(median(list.map((x) => x.ttfb_p50_ms))),
      ttfb_p99_ms: round(median(list.map((x) => x.ttfb_p99_ms))),
      all_complete: list.every((x) => x.completed === x.streams && x.in_order === x.streams),
      ...(list[0]?.peak_rss_mb !== undefined ? { peak_rss_mb: round(Math.max(...list.map((x) => x.peak_rss_mb)), 1) } : {}),
    },
  });
  const direct = summarize(rounds.direct);
  const through = summarize(rounds.service);
  return {
    streams: PLAN.streams,
    delta_delay_ms: PLAN.deltaDelayMs,
    deltas: DELTAS,
    peak_rss_is: peakResetWorks ? 'peak during the streams (VmHWM reset before each round)' : 'lifetime peak of the process',
    direct,
    service: through,
    ttfb_p99_over_direct_ms: round(through.median.ttfb_p99_ms - direct.median.ttfb_p99_ms),
  };
}

async function soak({ upstream, service }) {
  const meter = startNoiseMeter(upstream.pid, service.pid);
  let wrkCpuMs = 0;
  const load = (limit) =>
    runWrk({
      url: service.url,
      mode: 'mixed',
      auth: ['x-api-key', CLIENT_API_KEY],
      durationS: 300,
      connections: PLAN.connections,
      limit,
    });
  const first = await load(PLAN.soakFirst);
  wrkCpuMs += first.wrk_cpu_ms;
  await sleep(1000);
  const rssFirst = statusMb(service.pid, 'VmRSS');
  log(`[soak] after ${first.requests} requests: RSS ${round(rssFirst, 1)} MB`);
  const rest = await load(PLAN.soakTotal - first.requests);
  wrkCpuMs += rest.wrk_cpu_ms;
  const { other } = meter(wrkCpuMs);
  await sleep(1000);
  const rssAfter = statusMb(service.pid, 'VmRSS');
  const requests = first.requests + rest.requests;
  log(`[soak] after ${requests} requests: RSS ${round(rssAfter, 1)} MB (${round(rest.rps, 0)} req/s)`);
  return {
    requests,
    first_requests: first.requests,
    mix: 'every second request streaming',
    errors: first.error_count + rest.error_count,
    rps: round(rest.rps, 1),
    rss_after_first_mb: round(rssFirst, 1),
    rss_after_mb: round(rssAfter, 1),
    rss_growth_mb: round(rssAfter - rssFirst, 1),
    other_load_pct: other,
  };
}

// ---- scenarios ------------------------------------------------------------------------------------

function baseSettings(extraOAuth = {}) {
  return {
    log_level: 'info',
    host: '127.0.0.1',
    oauth: { enable_persistence: false, ...extraOAuth },
  };
}

async function apiKeyScenario(upstream, dir) {
  const config = {
    providers: [{ name: 'bench', type: 'anthropic', base_url: upstream.url, auth_type: 'api_key', auth_value: BENCH_API_KEY }],
    settings: baseSettings(),
  };
  let result = {};
  if (PHASES.has('throughput') || PHASES.has('streams')) {
    const service = await startService(config, dir, 'api_key');
    log(`[api_key] service pid ${service.pid} at ${service.url}, upstream ${upstream.url}`);
    try {
      if (PHASES.has('throughput')) {
        result = await throughput({
          upstream,
          service,
          directAuth: ['x-api-key', BENCH_API_KEY],
          serviceAuth: ['x-api-key', CLIENT_API_KEY],
          label: 'api_key',
        });
      }
      if (PHASES.has('streams')) result.concurrent_streams = await concurrentStreams({ upstream, service });
      result.service_lifetime_peak_rss_mb = round(statusMb(service.pid, 'VmHWM'), 1);
    } finally {
      await service.stop();
    }
    const logged = await countLines(service.logPath);
    result.log = { level: 'info', lines: logged.lines, request_lines: logged.requestLines };
  }
  if (PHASES.has('soak')) {
    // A service of its own, so what the soak sees is the soak's doing, not the streams' aftermath.
    const service = await startService(config, dir, 'soak');
    log(`[soak] service pid ${service.pid} at ${service.url}`);
    try {
      result.soak = await soak({ upstream, service });
    } finally {
      await service.stop();
    }
  }
  return result;
}

/** Logs an account in through the service's real admin API and the fake OAuth server. */
async function login(serviceUrl, email) {
  const gen = await fetch(`${serviceUrl}/oauth/generate-url`);
  if (!gen.ok) throw new Error(`generate-url: ${gen.status} ${await gen.text()}`);
  const { login_url: loginUrl } = await gen.json();
  const approve = await fetch(loginUrl, { redirect: 'manual', headers: { 'x-fake-user': email } });
  if (approve.status !== 302) throw new Error(`fake authorize: ${approve.status} ${await approve.text()}`);
  const to = new URL(approve.headers.get('location'));
  const exchange = await fetch(`${serviceUrl}/oauth/exchange-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: `${to.searchParams.get('code')}#${to.searchParams.get('state')}` }),
  });
  const body = await exchange.json();
  if (!exchange.ok || body.status !== 'success') throw new Error(`exchange-code: ${exchange.status} ${JSON.stringify(body)}`);
  return body;
}

async function oauthScenario(upstream, dir) {
  const config = {
    providers: [{ name: 'claude', type: 'anthropic', base_url: upstream.url, auth_type: 'auth_token', auth_value: 'oauth' }],
    settings: baseSettings({
      authorize_url: `${upstream.url}/oauth/authorize`,
      token_url: `${upstream.url}/v1/oauth/token`,
      redirect_uri: `${upstream.url}/oauth/code/callback`,
      strategy: 'session',
    }),
  };
  const service = await startService(config, dir, 'oauth');
  log(`[oauth] service pid ${service.pid} at ${service.url}`);
  try {
    const emails = ['alice@bench.local', 'bob@bench.local'];
    for (const email of emails) await login(service.url, email);
    const tokens = await (await fetch(`${upstream.url}/bench/tokens`)).json();
    const result = await throughput({
      upstream,
      service,
      directAuth: ['authorization', `Bearer ${tokens[0]}`],
      directBeta: `${CLIENT_BETA},${OAUTH_BETA}`,
      serviceAuth: ['authorization', `Bearer ${'x'.repeat(tokens[0].length)}`],
      serviceBeta: CLIENT_BETA,
      label: 'oauth',
    });
    const status = await (await fetch(`${service.url}/oauth/status`)).json();
    result.accounts = status.tokens.map((t) => ({ email: t.account_email, usage_count: t.usage_count, status: t.status }));
    result.strategy = status.strategy;
    return result;
  } finally {
    await service.stop();
  }
}

// ---- report -------------------------------------------------------------------------------------

function budgets(results) {
  const a = results.scenarios.api_key;
  const checks = [];
  const check = (name, value, limit, ok) => checks.push({ name, value, limit, ok: value !== null && value !== undefined && ok });
  let errors = 0;
  if (a.non_streaming) {
  check('non-streaming throughput through the service / direct', a.non_streaming.ratio, `>= ${BUDGETS.non_streaming_ratio_min}`, a.non_streaming.ratio >= BUDGETS.non_streaming_ratio_min);
  check('streaming throughput through the service / direct', a.streaming.ratio, `>= ${BUDGETS.streaming_ratio_min}`, a.streaming.ratio >= BUDGETS.streaming_ratio_min);
  const cpu = a.non_streaming.service.median.cpu_ms_per_request;
  check('service CPU per proxied request (non-streaming), ms', cpu, `<= ${BUDGETS.cpu_ms_per_request_max}`, cpu <= BUDGETS.cpu_ms_per_request_max);
  const cpuStream = a.streaming.service.median.cpu_ms_per_request;
  check('service CPU per proxied request (streaming), ms', cpuStream, `<= ${BUDGETS.cpu_ms_per_request_max}`, cpuStream <= BUDGETS.cpu_ms_per_request_max);
  errors += a.non_streaming.direct.median.errors + a.non_streaming.service.median.errors + a.streaming.direct.median.errors + a.streaming.service.median.errors;
  }
  const s = a.concurrent_streams;
  if (s) {
  check(`${s.streams} simultaneous streams all complete, every event in order`, s.service.median.all_complete && s.direct.median.all_complete, 'all', s.service.median.all_complete && s.direct.median.all_complete);
  check('simultaneous streams: p99 TTFB above direct, ms', s.ttfb_p99_over_direct_ms, `<= ${BUDGETS.streams_ttfb_p99_over_direct_ms_max}`, s.ttfb_p99_over_direct_ms <= BUDGETS.streams_ttfb_p99_over_direct_ms_max);
  check('simultaneous streams: service peak RSS, MB', s.service.median.peak_rss_mb, `<= ${BUDGETS.streams_peak_rss_mb_max}`, s.service.median.peak_rss_mb <= BUDGETS.streams_peak_rss_mb_max);
  }
  if (a.soak) {
  errors += a.soak.errors;
  check(`soak of ${a.soak.requests} requests: RSS growth after the first ${a.soak.first_requests}, MB`, a.soak.rss_growth_mb, `<= ${BUDGETS.soak_rss_growth_mb_max}`, a.soak.rss_growth_mb <= BUDGETS.soak_rss_growth_mb_max);
  }
  check('HTTP errors during the load (wrk: connect, read, write, non-2xx, timeout)', errors, '= 0', errors === 0);
  return checks;
}

const fmt = (x, d = 0) => (x === null || x === undefined ? '-' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

function renderTable(results) {
  const lines = [];
  const rows = [['scenario', 'test', 'direct req/s', 'service req/s', 'ratio', 'direct p50 / p99 ms', 'service p50 / p99 ms', 'service CPU ms/req']];
  for (const [name, sc] of Object.entries(results.scenarios)) {
    for (const [key, label] of [
      ['non_streaming', 'non-streaming'],
      ['streaming', 'streaming (20 deltas)'],
    ]) {
      const t = sc[key];
      if (!t) continue;
      rows.push([
        name,
        label,
        fmt(t.direct.median.rps),
        fmt(t.service.median.rps),
        fmt(t.ratio, 2),
        `${fmt(t.direct.median.p50_ms, 2)} / ${fmt(t.direct.median.p99_ms, 2)}`,
        `${fmt(t.service.median.p50_ms, 2)} / ${fmt(t.service.median.p99_ms, 2)}`,
        fmt(t.service.median.cpu_ms_per_request, 3),
      ]);
    }
  }
  if (rows.length > 1) lines.push(...markdownTable(rows), '');
  const a = results.scenarios.api_key;
  const s = a.concurrent_streams;
  if (s) lines.push(
    ...markdownTable([
      [`${s.streams} simultaneous streams, ${s.delta_delay_ms} ms between deltas`, 'direct', 'service'],
      ['complete, every event in order', s.direct.median.all_complete ? 'all' : 'NOT ALL', s.service.median.all_complete ? 'all' : 'NOT ALL'],
      ['TTFB p50 / p99 ms', `${fmt(s.direct.median.ttfb_p50_ms, 1)} / ${fmt(s.direct.median.ttfb_p99_ms, 1)}`, `${fmt(s.service.median.ttfb_p50_ms, 1)} / ${fmt(s.service.median.ttfb_p99_ms, 1)}`],
      ['p99 TTFB above direct ms', '', fmt(s.ttfb_p99_over_direct_ms, 1)],
      ['service peak RSS (VmHWM) MB', '', fmt(s.service.median.peak_rss_mb, 1)],
    ]),
    '',
  );
  if (a.soak) lines.push(
    ...markdownTable([
      [`soak (${fmt(a.soak.requests)} requests, ${a.soak.mix})`, 'value'],
      [`RSS after the first ${fmt(a.soak.first_requests)} MB`, fmt(a.soak.rss_after_first_mb, 1)],
      [`RSS after ${fmt(a.soak.requests)} MB`, fmt(a.soak.rss_after_mb, 1)],
      ['growth MB', fmt(a.soak.rss_growth_mb, 1)],
    ]),
    '',
  );
  lines.push(...markdownTable([['budget', 'measured', 'limit', 'met'], ...results.budgets.map((b) => [b.name, String(b.value), b.limit, b.ok ? 'yes' : 'NO'])]));
  return lines.join('\n');
}

function markdownTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)];
}

// ---- main ---------------------------------------------------------------------------------------

/** However the machine behaves, the run ends: a full run takes 4–6 minutes, a smoke run well under one. */
const WATCHDOG_MS = opts.smoke ? 4 * 60_000 : 20 * 60_000;

async function main() {
  setTimeout(() => {
    log(`bench: still running after ${WATCHDOG_MS / 60_000} minutes; stopping`);
    killAll();
    process.exit(3);
  }, WATCHDOG_MS).unref();
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does).`);
  try {
    execFileSync('wrk', ['-v'], { stdio: 'ignore' });
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error('wrk is not installed: apt-get install -y wrk');
  }
  const info = machine();
  if (info.nproc >= 2) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
      pinned = true;
    } catch {
      log('taskset is not available: running unpinned, numbers are not comparable');
    }
  }
  const started = new Date();
  const dir = mkdtempSync(join(os.tmpdir(), 'ccb-bench-'));
  log(`claude-code-balancer bench (${opts.smoke ? 'smoke' : 'full'}): ${info.nproc} cores, ${info.cpu_model}, node ${info.node}; work dir ${dir}`);
  const upstream = await startUpstream();
  const results = {
    kind: opts.smoke ? 'smoke' : 'full',
    started_at: started.toISOString(),
    machine: info,
    method: {
      pinned,
      service_core: pinned ? 1 : null,
      load_and_upstream_core: pinned ? 0 : null,
      load_generator: `wrk ${info.wrk ?? ''} -t1 -c${PLAN.connections}, bench/load.lua`.trim(),
      body_bytes: 2048,
      rounds: PLAN.rounds,
      duration_s: PLAN.duration,
      warmup_s: PLAN.warmup,
      connections: PLAN.connections,
      log_level: 'info',
      statistic: `median of ${PLAN.rounds} rounds, direct and service alternating`,
    },
    budgets_limits: BUDGETS,
    scenarios: {},
  };
  try {
    results.scenarios.api_key = await apiKeyScenario(upstream, dir);
    if (!opts['no-oauth'] && PHASES.has('throughput')) results.scenarios.oauth_2_accounts = await oauthScenario(upstream, dir);
  } finally {
    await upstream.stop();
    if (!opts['keep-logs']) rmSync(dir, { recursive: true, force: true });
  }
  results.finished_at = new Date().toISOString();
  results.elapsed_s = round((Date.now() - started.getTime()) / 1000, 1);
  results.budgets = budgets(results);
  results.all_budgets_met = results.budgets.every((b) => b.ok);
  writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderTable(results)}\n\nresults: ${OUT} (${results.elapsed_s} s)\n`);
  if (!results.all_budgets_met && !opts.smoke) {
    process.stdout.write('Some budgets were missed.\n');
    process.exitCode = 1;
  }
}

main().catch((err) => {
  log(`bench failed: ${err.stack ?? err}`);
  killAll();
  process.exit(2);
});
