// The bench's command line, plan (how long, how many) and fixed values shared by every part.
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(BENCH_DIR, '..');
export const CLI = resolve(process.env.BENCH_CLI ?? join(ROOT, 'dist', 'cli.js'));
export const LUA = join(BENCH_DIR, 'load.lua');
/** Must equal BENCH_API_KEY of upstream.mjs, which runs as its own process. */
export const BENCH_API_KEY = 'bench-fake-api-key-not-a-secret-0123456789abcdefghijklmnopqrs';
/** What a client sends to the service: it replaces the credential, so any value of the same size will do. */
export const CLIENT_API_KEY = 'bench-fake-client-key-placeholder-0123456789abcdefghijklmnop';
export const CLIENT_BETA = 'claude-code-20250219';
export const OAUTH_BETA = 'oauth-2025-04-20';
export const DELTAS = 20;

export const { values: opts } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    'no-oauth': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    only: { type: 'string' },
    scenario: { type: 'string' },
    tries: { type: 'string' },
    'no-nginx': { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    'floor-net': { type: 'boolean', default: false },
    'floor-hybrid': { type: 'boolean', default: false },
  },
  strict: true,
});

export const PLAN = opts.smoke
  ? { rounds: 1, duration: 1, warmup: 1, connections: 10, streams: 20, deltaDelayMs: 20, soakFirst: 500, soakTotal: 2000 }
  : { rounds: 3, duration: 6, warmup: 5, connections: 50, streams: 1000, deltaDelayMs: 20, soakFirst: 10_000, soakTotal: 100_000 };
if (opts.rounds) PLAN.rounds = Math.max(1, Number(opts.rounds));
if (opts.duration) PLAN.duration = Math.max(1, Number(opts.duration));
export const PHASES = new Set((opts.only ?? 'throughput,streams,soak').split(',').map((s) => s.trim()));
export const OUT = resolve(opts.out ?? (opts.smoke ? join(os.tmpdir(), `ccb-bench-smoke-${process.pid}.json`) : join(BENCH_DIR, 'results.json')));

export const BUDGETS = {
  non_streaming_ratio_min: 0.35,
  streaming_ratio_min: 0.3,
  cpu_ms_per_request_max: 0.16,
  streams_ttfb_p99_over_direct_ms_max: 1000,
  streams_peak_rss_mb_max: 200,
  soak_rss_growth_mb_max: 20,
  /** Issue 10: the Claude-Code-sized body costs the service at most twice what it costs nginx. */
  big_body_cpu_over_nginx_max: 2,
  /** Issue 14: the Redis store costs at most 10 % more CPU per request than the file store. */
  redis_cpu_over_file_max: 1.1,
};

/**
 * --scenario api_key,claude_code,oauth: which scenarios run (all when absent). A name selects the
 * scenario of that name and those it starts (`oauth` is oauth_2_accounts and oauth_2_accounts_redis).
 */
const SCENARIOS = opts.scenario ? opts.scenario.split(',').map((s) => s.trim()).filter(Boolean) : null;
export function wantsScenario(name) {
  return !SCENARIOS || SCENARIOS.some((s) => name === s || name.startsWith(`${s}_`));
}
