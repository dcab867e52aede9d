import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { OAUTH_BETA } from '../fakes/fake-anthropic.js';
import { configWith, startService, type RunningService } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';

const run = promisify(execFile);
const CLAUDE = resolve('node_modules/.bin/claude');

/** The real Claude Code CLI, pointed at the service as the README tells users to. */
async function claude(baseUrl: string, prompt: string) {
  const home = mkdtempSync(join(tmpdir(), 'ccb-claude-home-'));
  const { stdout } = await run(CLAUDE, ['-p', prompt, '--output-format', 'json'], {
    cwd: home,
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      ANTHROPIC_BASE_URL: baseUrl,
      ANTHROPIC_AUTH_TOKEN: 'anything',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: '0',
    },
  });
  return JSON.parse(stdout) as { type: string; subtype: string; is_error: boolean; result: string };
}

describe('Claude Code through the service, served by an OAuth account', () => {
  let fakes: OAuthFakes;
  let svc: RunningService;

  beforeAll(async () => {
    fakes = await startOAuthFakes();
    svc = await startService({
      config: configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth) }),
    });
    // Log an account in through the admin API, as the README's curl commands do.
    const generated = (await (await request(`${svc.url}/oauth/generate-url`)).body.json()) as { login_url: string };
    const code = await fakes.oauth.approve(generated.login_url, 'dev@example.com');
    const exchanged = await request(`${svc.url}/oauth/exchange-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    expect(exchanged.statusCode).toBe(200);
    await exchanged.body.dump();
  });
  afterAll(async () => {
    await svc?.close();
    await fakes?.close();
  });

  it('claude -p answers, the upstream sees the account token and the oauth beta, the body unchanged', async () => {
    fakes.upstream.reset();
    const result = await claude(svc.url, 'say hi');
    expect(result).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'Hello from fake' });

    const calls = fakes.upstream.requests.filter((r) => r.url.startsWith('/v1/messages'));
    expect(calls).toHaveLength(1);
    const call = calls[0];
    expect(call.url).toBe('/v1/messages?beta=true');
    expect(call.headers.authorization).toMatch(/^Bearer sk-ant-oat01-/);
    expect(call.headers.authorization).not.toBe('Bearer anything');
    const betas = String(call.headers['anthropic-beta']).split(',');
    expect(betas).toContain(OAUTH_BETA);
    expect(betas).toContain('claude-code-20250219');
    expect(new Set(betas).size).toBe(betas.length);
    expect(call.headers['x-claude-code-session-id']).toBeTruthy();
    const body = JSON.parse(call.body.toString()) as { stream: boolean; system: unknown; metadata: { user_id: string } };
    expect(body.stream).toBe(true);
    expect(body.system).toBeTruthy();
    expect(JSON.parse(body.metadata.user_id).session_id).toBe(call.headers['x-claude-code-session-id']);

    const status = (await (await request(`${svc.url}/oauth/status`)).body.json()) as { tokens: Array<{ usage_count: number }> };
    expect(status.tokens[0].usage_count).toBe(1);
  });
});
