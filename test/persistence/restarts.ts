import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { expect } from 'vitest';
import { request } from 'undici';
import { startServiceProcess, type ServiceProcess } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, type OAuthFakes } from '../support/oauth-setup.js';

/** Restart scenarios shared by the keyring and the file store: real processes, killed for real. */
export interface RestartRig {
  start(): Promise<ServiceProcess>;
  login(proc: ServiceProcess, email: string): Promise<void>;
  ask(proc: ServiceProcess, session?: string): Promise<{ status: number; account: string | undefined }>;
  status(proc: ServiceProcess): Promise<{ tokens: Array<{ account_email: string; status: string; usage_count: number }> }>;
  kill9(proc: ServiceProcess): Promise<void>;
}

export function restartRig(fakes: OAuthFakes, storeSettings: Record<string, unknown>, env: () => NodeJS.ProcessEnv): RestartRig {
  const dir = mkdtempSync(join(tmpdir(), 'ccb-restart-'));
  const configPath = join(dir, 'providers.yaml');
  writeFileSync(
    configPath,
    yaml.dump(
      configWith([oauthProvider(fakes.upstream.url)], {
        oauth: oauthSettingsFor(fakes.oauth, { strategy: 'round_robin', ...storeSettings }),
      }),
    ),
  );
  return {
    start: () => startServiceProcess(['--config', configPath, '--port', '0'], { env: env() }),
    login: (proc, email) => loginThrough(fakes, proc, email),
    ask: askThrough,
    async status(proc) {
      return (await (await request(`${proc.url}/oauth/status`)).body.json()) as Awaited<ReturnType<RestartRig['status']>>;
    },
    async kill9(proc) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** A login through the service's admin API and the fake OAuth server; the exchange answers 200. */
export async function loginThrough(fakes: OAuthFakes, proc: ServiceProcess, email: string): Promise<void> {
  const generated = (await (await request(`${proc.url}/oauth/generate-url`)).body.json()) as { login_url: string };
  const code = await fakes.oauth.approve(generated.login_url, email);
  const res = await request(`${proc.url}/oauth/exchange-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

/** One Messages request through the service: its status and the account that served it. */
export async function askThrough(proc: ServiceProcess, session?: string): Promise<{ status: number; account: string | undefined }> {
  const res = await request(`${proc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { 'x-claude-code-session-id': session } : {}) },
    body: '{"model":"m","max_tokens":1,"messages":[]}',
  });
  await res.body.dump();
  return { status: res.statusCode, account: res.headers['x-balancer-account'] as string | undefined };
}

/** The scenarios of the persistence issue, for one store. */
export async function loginsSurviveKill9(rig: RestartRig): Promise<void> {
  const first = await rig.start();
  await rig.login(first, 'one@example.com');
  await rig.login(first, 'two@example.com');
  await rig.kill9(first);

  const second = await rig.start();
  try {
    expect(second.stderr()).toContain('one@example.com');
    expect(second.stderr()).toContain('two@example.com');
    const served = new Set<string | undefined>();
    for (let i = 0; i < 4; i++) {
      const answer = await rig.ask(second);
      expect(answer.status).toBe(200);
      served.add(answer.account);
    }
    expect(served).toEqual(new Set(['one@example.com', 'two@example.com']));
  } finally {
    await second.stop();
  }
}

export async function rotatedRefreshTokenSurvivesKill9(rig: RestartRig, fakes: OAuthFakes): Promise<void> {
  const first = await rig.start();
  await rig.login(first, 'rot@example.com');
  const before = fakes.oauth.currentRefreshToken('rot@example.com');
  const refreshed = await request(`${first.url}/oauth/refresh/rot@example.com`, { method: 'POST' });
  expect(refreshed.statusCode).toBe(200);
  await rig.kill9(first); // right after the refresh answered: the old refresh token is dead now
  expect(fakes.oauth.currentRefreshToken('rot@example.com')).not.toBe(before);

  const second = await rig.start();
  try {
    const again = await request(`${second.url}/oauth/refresh/rot@example.com`, { method: 'POST' });
    expect(again.statusCode).toBe(200);
    await again.body.dump();
    expect((await rig.ask(second)).status).toBe(200);
  } finally {
    await second.stop();
  }
}

export async function usageSurvivesGracefulRestart(rig: RestartRig): Promise<void> {
  const first = await rig.start();
  await rig.login(first, 'count@example.com');
  for (let i = 0; i < 3; i++) expect((await rig.ask(first)).status).toBe(200);
  expect((await first.stop('SIGTERM')).code).toBe(0);

  const second = await rig.start();
  try {
    const status = await rig.status(second);
    expect(status.tokens.find((t) => t.account_email === 'count@example.com')?.usage_count).toBe(3);
  } finally {
    await second.stop();
  }
}
