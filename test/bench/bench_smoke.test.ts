// The benchmark harness (bench/run.mjs, `npm run bench`) run end to end on a tiny load: it must
// start the fake upstream and the real service, drive every phase and write a complete results
// object. Numbers are not checked: timings on a shared test machine mean nothing.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ccb-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [resolve('bench/run.mjs'), ...args], { timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const number = expect.any(Number);
const throughputShape = {
  direct: { rounds: expect.any(Array), median: { rps: number, p50_ms: number, p99_ms: number, errors: 0 } },
  service: { rounds: expect.any(Array), median: { rps: number, p50_ms: number, p99_ms: number, errors: 0, cpu_ms_per_request: number } },
  ratio: number,
};

describe('npm run bench (smoke)', () => {
  it('runs every phase on a tiny load and writes a results object with the expected fields', { timeout: 180_000 }, async () => {
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
    expect(apiKey.non_streaming).toMatchObject(throughputShape);
    expect(apiKey.streaming).toMatchObject(throughputShape);
    expect(apiKey.concurrent_streams).toMatchObject({
      streams: number,
      delta_delay_ms: 20,
      deltas: 20,
      direct: { median: { ttfb_p50_ms: number, ttfb_p99_ms: number, all_complete: true } },
      service: { median: { ttfb_p50_ms: number, ttfb_p99_ms: number, all_complete: true, peak_rss_mb: number } },
      ttfb_p99_over_direct_ms: number,
    });
    expect(apiKey.soak).toMatchObject({ requests: number, first_requests: number, errors: 0, rss_after_first_mb: number, rss_after_mb: number, rss_growth_mb: number });
    expect(apiKey.soak.requests).toBeGreaterThanOrEqual(2000);
    expect(apiKey.log.request_lines).toBeGreaterThan(0);

    const oauth = results.scenarios.oauth_2_accounts;
    expect(oauth.non_streaming).toMatchObject(throughputShape);
    expect(oauth.streaming).toMatchObject(throughputShape);
    // Both accounts of the pool served requests: the scheduler was on the path.
    expect(oauth.accounts).toHaveLength(2);
    for (const account of oauth.accounts) expect(account.usage_count).toBeGreaterThan(0);

    expect(results.budgets.length).toBeGreaterThanOrEqual(8);
    for (const budget of results.budgets) expect(budget).toMatchObject({ name: expect.any(String), limit: expect.any(String), ok: expect.any(Boolean) });
    expect(typeof results.all_budgets_met).toBe('boolean');
  });
});
