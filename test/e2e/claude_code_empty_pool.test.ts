import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { unifiedHeaders } from '../fakes/fake-anthropic.js';
import { configWith, startService, type RunningService } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';

const CLAUDE = resolve('node_modules/.bin/claude');
/** Far beyond the 10 s a user may wait; without x-should-retry: false Claude Code takes minutes. */
const KILL_AFTER_MS = 60_000;

/** The real Claude Code CLI, with its own retry settings (no CLAUDE_CODE_MAX_RETRIES): what a user runs. */
function claude(baseUrl: string, args: string[]): Promise<{ code: number | null; killed: boolean; output: string }> {
  const home = mkdtempSync(join(tmpdir(), 'ccb-claude-home-'));
  return new Promise((done, fail) => {
    const child = spawn(CLAUDE, args, {
      cwd: home,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ANTHROPIC_BASE_URL: baseUrl,
        ANTHROPIC_AUTH_TOKEN: 'anything',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, KILL_AFTER_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, killed, output });
    });
  });
}

const messageRequests = (svc: RunningService) =>
  svc.logs.map((l) => JSON.parse(l) as { msg?: string; path?: string }).filter((l) => l.path?.startsWith('/v1/messages') && !l.path.includes('count_tokens'));

describe('Claude Code when no account can serve', () => {
  let fakes: OAuthFakes;
  let svc: RunningService;

  beforeAll(async () => {
    fakes = await startOAuthFakes();
    svc = await startService({ config: configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth) }) });
  });
  afterAll(async () => {
    await svc?.close();
    await fakes?.close();
  });

  it('an empty pool: claude -p stops after one request and names the service and the login command', { timeout: KILL_AFTER_MS + 10_000 }, async () => {
    const result = await claude(svc.url, ['-p', 'hi']);
    expect(result.killed).toBe(false);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`claude-code-balancer (${svc.url}) has no Claude account that can serve: log one in with `);
    expect(messageRequests(svc)).toHaveLength(1);
    // Nothing reached Anthropic's side: the pool answered itself.
    expect(fakes.upstream.requests).toHaveLength(0);
  });
});

describe('Claude Code when every account is rate limited', () => {
  let fakes: OAuthFakes;
  let svc: RunningService;

  beforeAll(async () => {
    fakes = await startOAuthFakes();
    svc = await startService({ config: configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth) }) });
    const generated = (await (await request(`${svc.url}/oauth/generate-url`)).body.json()) as { login_url: string };
    const code = await fakes.oauth.approve(generated.login_url, 'dev@example.com');
    const exchanged = await request(`${svc.url}/oauth/exchange-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect(exchanged.statusCode).toBe(200);
    await exchanged.body.dump();
  });
  afterAll(async () => {
    await svc?.close();
    await fakes?.close();
  });

  it('claude -p stops after the one 429 and names the service', { timeout: KILL_AFTER_MS + 10_000 }, async () => {
    const reset = Math.floor(Date.now() / 1000) + 2 * 3600;
    fakes.upstream.onRequest((r) =>
      r.url.startsWith('/v1/messages')
        ? { kind: 'json', status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'limit' } }, headers: unifiedHeaders({ status: 'rejected', reset }) }
        : undefined,
    );
    const result = await claude(svc.url, ['-p', 'hi']);
    expect(result.killed).toBe(false);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`claude-code-balancer (${svc.url}) has no Claude account that can serve now: every one is rate limited`);
    expect(messageRequests(svc)).toHaveLength(1);
    expect(fakes.upstream.requests.filter((r) => r.url.startsWith('/v1/messages'))).toHaveLength(1);
  });
});
