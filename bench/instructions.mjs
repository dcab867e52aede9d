#!/usr/bin/env node
// Instructions per request, counted by valgrind (callgrind), of the service or of the floor
// (bench/floor.mjs) proxying the ~140 KB Claude Code body to bench/upstream.mjs. Unlike CPU time,
// the count does not depend on what else the machine runs, so two builds can be compared on a
// busy host. Only user-space instructions of the proxy's process (all its threads, the garbage
// collector's included) are counted; what the kernel does for its sockets is not.
//
//   node bench/instructions.mjs [--target service|floor] [--warmup N] [--requests N] [--concurrency N] [--stream]
//                               [--log-level info|warn]
//
// Instrumentation is off during the warm-up (JIT compilation settles) and on for --requests
// requests only (callgrind_control -i). BENCH_CLI picks another build, like bench/run.mjs.
// Under valgrind Node runs 20–50 times slower: the defaults take a few minutes.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values: o } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    target: { type: 'string', default: 'service' },
    warmup: { type: 'string', default: '1500' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    stream: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
  },
});
// bench/lib/options.mjs parses the command line of bench/run.mjs when it is loaded: it sees none of ours.
process.argv.length = 2;
const { claudeCodeBody } = await import('./lib/claude-code-body.mjs');
const { BENCH_API_KEY, BENCH_DIR, CLI, CLIENT_API_KEY } = await import('./lib/options.mjs');
const { killAll, startUpstream, track, waitForLine } = await import('./lib/processes.mjs');
const { baseSettings } = await import('./lib/scenarios.mjs');
const warmup = Number(o.warmup);
const requests = Number(o.requests);
const concurrency = Number(o.concurrency);

const dir = mkdtempSync(join(os.tmpdir(), 'ccb-instr-'));
const upstream = await startUpstream();
const out = join(dir, 'callgrind.out');
let args;
if (o.target === 'floor') {
  args = [join(BENCH_DIR, 'floor.mjs'), upstream.url, join(dir, 'access.log')];
} else {
  const config = {
    providers: [{ name: 'bench', type: 'anthropic', base_url: upstream.url, auth_type: 'api_key', auth_value: BENCH_API_KEY }],
    settings: { ...baseSettings(), log_level: o['log-level'] },
  };
  writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config));
  args = [CLI, 'serve', '--config', join(dir, 'config.yaml'), '--port', '0'];
}
const child = track(
  spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  }),
);
child.stderr.setEncoding('utf8');
const url = (await waitForLine(child.stderr, /listening on (http:\/\/\S+)/, 120_000, o.target))[1];
child.stderr.resume();

const auth = o.target === 'floor' ? BENCH_API_KEY : CLIENT_API_KEY;
const [head, tail] = claudeCodeBody(o.stream).split('__REQ_TAG__');
const client = new Pool(url, { connections: concurrency });
let counter = 0;
async function send(n) {
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const res = await client.request({
        path: '/v1/messages',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
          'user-agent': 'claude-cli/2.1.0 (external, cli)',
          'x-app': 'cli',
          accept: 'application/json',
          'x-api-key': auth,
          'x-claude-code-session-id': `bench-session-${counter % 8}`,
        },
        body: `${head}req ${++counter} ${tail}`,
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

try {
  const t0 = Date.now();
  await send(warmup);
  const t1 = Date.now();
  execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
  await send(requests);
  execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
  const t2 = Date.now();
  await client.close();
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  // One file per thread or one in all: sum the "totals:" lines of the files written.
  const files = execFileSync('sh', ['-c', `ls ${out}*`], { encoding: 'utf8' }).trim().split('\n');
  let total = 0;
  for (const f of files) {
    const m = /^totals:\s+(\d+)/m.exec(readFileSync(f, 'utf8'));
    if (m) total += Number(m[1]);
  }
  const perRequest = Math.round(total / requests);
  process.stdout.write(
    `${JSON.stringify({ target: o.target, node: process.version, cli: o.target === 'floor' ? null : CLI, log_level: o['log-level'], stream: o.stream, warmup, requests, concurrency, instructions: total, per_request: perRequest, warmup_s: (t1 - t0) / 1000, measured_s: (t2 - t1) / 1000 })}\n`,
  );
} finally {
  killAll();
  await upstream.stop().catch(() => {});
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`kept ${dir}\n`);
}
