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
//                      [--only throughput,streams,soak] [--floor] [--floor-net] [--floor-hybrid]
//
// --floor adds bench/floor.mjs (bare node:http + undici, the least a Node proxy does) as a third
// proxy beside the service and nginx in the throughput rounds of the API key and 140 KB scenarios.
// --floor-net adds bench/floor-net.mjs (node:net only, the request and response framed by hand: a
// measuring tool for what a Node data path costs without any HTTP parser) the same way.
// --floor-hybrid adds bench/floor-hybrid.mjs twice, crossing those two: http-net (node:http server,
// raw net upstream) and net-undici (raw net client side, undici upstream), to see which side costs.
//
// --smoke runs a tiny load (seconds, not minutes) to check that the harness works end to end;
// its results go to a temporary file unless --out is given. Environment: BENCH_NODE_ARGS adds
// node flags to the service (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"); BENCH_CLI runs another
// build of the service (the cli.js of an older checkout's dist/, to compare).
// BENCH_FLOOR_NODE_ARGS adds node flags to the floors (e.g. "--max-semi-space-size=64").
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BUDGETS, CLI, OUT, PHASES, PLAN, opts, wantsScenario } from './lib/options.mjs';
import { machine, pinning } from './lib/proc.mjs';
import { killAll, startUpstream } from './lib/processes.mjs';
import { budgets, renderTable } from './lib/report.mjs';
import { nginxBinary } from './lib/nginx.mjs';
import { redisAvailable } from './lib/redis.mjs';
import { apiKeyScenario, claudeCodeScenario, oauthScenario } from './lib/scenarios.mjs';
import { log, round } from './lib/stats.mjs';

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
      pinning.on = true;
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
      pinned: pinning.on,
      service_core: pinning.on ? 1 : null,
      load_and_upstream_core: pinning.on ? 0 : null,
      load_generator: `wrk ${info.wrk ?? ''} -t1 -c${PLAN.connections}, bench/load.lua`.trim(),
      body_bytes: 2048,
      nginx: opts['no-nginx'] ? null : nginxBinary(),
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
    const hasThroughput = PHASES.has('throughput');
    if (wantsScenario('api_key')) results.scenarios.api_key = await apiKeyScenario(upstream, dir);
    if (wantsScenario('claude_code_140k') && hasThroughput) results.scenarios.claude_code_140k = await claudeCodeScenario(upstream, dir);
    if (!opts['no-oauth'] && hasThroughput) {
      if (wantsScenario('oauth_2_accounts')) results.scenarios.oauth_2_accounts = await oauthScenario(upstream, dir);
      if (wantsScenario('oauth_2_accounts_redis')) {
        if (redisAvailable()) results.scenarios.oauth_2_accounts_redis = await oauthScenario(upstream, dir, { store: 'redis' });
        else log('redis-server is not installed: no Redis store row');
      }
    }
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
