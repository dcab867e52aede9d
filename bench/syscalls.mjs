#!/usr/bin/env node
// Syscalls per 140 KB request of a relay: `strace -c -f` attached to bench/floor-net.mjs,
// bench/floor.mjs or nginx's worker during one wrk run (non-streaming, 50 connections). A measuring
// tool for BENCHMARKS.md ("The floor"); strace slows the relay, so only the counts mean anything.
//
//   RELAYS=floor-net,floor,nginx node bench/syscalls.mjs --duration S
// (lib/options.mjs owns the command line, so the relays come from the environment)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { writeClaudeCodeTemplate } from './lib/claude-code-body.mjs';
import { startNginx } from './lib/nginx.mjs';
import { BENCH_API_KEY, opts } from './lib/options.mjs';
import { killAll, startFloor, startUpstream } from './lib/processes.mjs';
import { sleep } from './lib/stats.mjs';
import { runWrk } from './lib/wrk.mjs';

const names = (process.env.RELAYS ?? '').split(',').filter(Boolean);
const durationS = Number(opts.duration) || 4;
const dir = mkdtempSync(join(os.tmpdir(), 'ccb-syscalls-'));
const body = join(dir, 'claude-code-body');
writeClaudeCodeTemplate(body);
const upstream = await startUpstream();
for (const name of names.length ? names : ['floor-net', 'floor', 'nginx']) {
  const relay = name === 'nginx' ? await startNginx(dir, upstream.url) : await startFloor(dir, upstream.url, `${name}.mjs`);
  const run = (s) => runWrk({ url: relay.url, mode: 'json', auth: ['x-api-key', BENCH_API_KEY], durationS: s, connections: 50, body });
  await run(2);
  const out = join(dir, `${name}.strace`);
  const strace = spawn('strace', ['-c', '-f', '-o', out, '-p', String(relay.pid)], { stdio: 'ignore' });
  await sleep(500);
  const res = await run(durationS);
  strace.kill('SIGINT');
  await new Promise((r) => strace.once('exit', r));
  const table = readFileSync(out, 'utf8');
  process.stdout.write(`== ${name}: ${res.requests} requests\n`);
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    const calls = Number(f[3]);
    if (f.length >= 5 && calls > 0 && (calls / res.requests >= 0.05 || f.at(-1) === 'total')) process.stdout.write(`  ${f.at(-1).padEnd(16)} ${(calls / res.requests).toFixed(2)} per request\n`);
  }
  await relay.stop();
}
await upstream.stop();
killAll();
rmSync(dir, { recursive: true, force: true });
