// The benchmark harness (bench/run.mjs, `npm run bench`) run end to end on a tiny load: it must
// start the fake upstream and the real service, drive every phase and write a complete results
// object. Numbers are not checked: timings on a shared test machine mean nothing, and a stalled
// machine can even finish a 1 s round without one request (then a rate or a CPU per request is
// 0 or null): only the structure is.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ccb-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [resolve('bench/run.mjs'), ...args], { timeout: 230_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const number = expect.any(Number);
/** A measured value: a number, or null when a round had nothing to divide by. */
const measured = expect.toSatisfy((x: unknown) => x === null || typeof x === 'number', 'a number or null');
const median = { rps: measured, p50_ms: measured, p99_ms: measured, errors: number };
const throughputShape = {
  direct: { rounds: expect.any(Array), median },
  service: { rounds: expect.any(Array), median: { ...median, cpu_ms_per_request: measured } },
  ratio: measured,
};
const withNginx = { ...throughputShape, nginx: { rounds: expect.any(Array), median: { ...median, cpu_ms_per_request: measured } }, service_cpu_over_nginx: measured };
const nginxInstalled = existsSync('/usr/sbin/nginx') || existsSync('/usr/bin/nginx');

describe('npm run bench (smoke)', () => {
  it('runs every phase on a tiny load and writes a results object with the expected fields', { timeout: 240_000 }, async () => {
    const out = join(dir, 'results.json');
    const { code, stdout, stderr } = await runBench(['--smoke', '--out', out]);
    expect(code, `bench/run.mjs --smoke failed:\n${stderr}\n${stdout}`).toBe(0);
    expect(stdout).toContain('| scenario');

    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results).toMatchObject({
      kind: 'smoke',
      machine: { nproc: number, cpu_model: expect.any(String), node: process.version },
      method: { rounds: 1, connections: number, body_bytes: 2048, log_level: 'info' },
      budgets_limits: {
        non_streaming_ratio_min: 0.35,
        streaming_ratio_min: 0.3,
        cpu_ms_per_request_max: 0.16,
        streams_ttfb_p99_over_direct_ms_max: 1000,
        streams_peak_rss_mb_max: 200,
        soak_rss_growth_mb_max: 20,
      },
    });
    const apiKey = results.scenarios.api_key;
    // The nginx reference row runs whenever nginx is installed (.ci/run installs nginx-light).
    const apiKeyShape = nginxInstalled ? withNginx : throughputShape;
    expect(apiKey.non_streaming).toMatchObject(apiKeyShape);
    expect(apiKey.streaming).toMatchObject(apiKeyShape);
    expect(results.method.nginx).toEqual(nginxInstalled ? expect.any(String) : null);

    const claudeCode = results.scenarios.claude_code_140k;
    expect(claudeCode.body_bytes).toBeGreaterThan(130_000);
    expect(claudeCode.body_bytes).toBeLessThan(150_000);
    expect(claudeCode.non_streaming).toMatchObject(apiKeyShape);
    expect(claudeCode.streaming).toMatchObject(apiKeyShape);
    expect(apiKey.concurrent_streams).toMatchObject({
      streams: number,
      delta_delay_ms: 20,
      deltas: 20,
      direct: { median: { ttfb_p50_ms: number, ttfb_p99_ms: number, all_complete: true } },
      service: { median: { ttfb_p50_ms: number, ttfb_p99_ms: number, all_complete: true, peak_rss_mb: number } },
      ttfb_p99_over_direct_ms: number,
    });
    expect(apiKey.soak).toMatchObject({ requests: number, first_requests: number, errors: number, rss_after_first_mb: number, rss_after_mb: number, rss_growth_mb: number });
    expect(apiKey.soak.requests).toBeGreaterThanOrEqual(2000);
    expect(apiKey.log.request_lines).toBeGreaterThan(0);

    const oauth = results.scenarios.oauth_2_accounts;
    expect(oauth.non_streaming).toMatchObject(throughputShape);
    expect(oauth.streaming).toMatchObject(throughputShape);
    expect(oauth.store).toBe('file');
    // Both accounts of the pool served requests (warm-ups included): the scheduler was on the path.
    expect(oauth.accounts).toHaveLength(2);
    for (const account of oauth.accounts) expect(account.usage_count).toBeGreaterThan(0);

    // The same pool on a real redis-server started by the bench.
    const redis = results.scenarios.oauth_2_accounts_redis;
    expect(redis.store).toBe('redis');
    expect(redis.non_streaming).toMatchObject(throughputShape);
    expect(redis.streaming).toMatchObject(throughputShape);
    expect(redis.accounts).toHaveLength(2);
    for (const account of redis.accounts) expect(account.usage_count).toBeGreaterThan(0);

    expect(results.budgets.length).toBeGreaterThanOrEqual(nginxInstalled ? 12 : 10);
    for (const budget of results.budgets) expect(budget).toMatchObject({ name: expect.any(String), limit: expect.any(String), ok: expect.any(Boolean) });
    expect(typeof results.all_budgets_met).toBe('boolean');
  });
});
