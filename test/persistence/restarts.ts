import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { expect, vi } from 'vitest';
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

/** The unified rate-limit headers of an allowed answer, with both windows' utilization and reset (epoch seconds). */
function utilizationHeaders(u5: number, reset5: number, u7: number, reset7: number): Record<string, string> {
  const p = 'anthropic-ratelimit-unified-';
  return {
    [`${p}status`]: 'allowed',
    [`${p}reset`]: String(reset5),
    [`${p}representative-claim`]: 'five_hour',
    [`${p}5h-utilization`]: String(u5),
    [`${p}5h-reset`]: String(reset5),
    [`${p}7d-utilization`]: String(u7),
    [`${p}7d-reset`]: String(reset7),
  };
}

/** The 5h/7d utilization and reset times the service shows, and the record in the file store. */
async function utilizationOf(rig: RestartRig, proc: ServiceProcess, email: string) {
  const status = (await rig.status(proc)) as unknown as { tokens: Array<{ account_email: string; rate_limit: Record<string, unknown> }> };
  const { utilization_5h, resets_5h_at, utilization_7d, resets_7d_at } = status.tokens.find((t) => t.account_email === email)!.rate_limit;
  return { utilization_5h, resets_5h_at, utilization_7d, resets_7d_at };
}

function storedRecord(file: string, email: string): { utilization_5h: unknown; utilization_7d: unknown } {
  const data = JSON.parse(readFileSync(file, 'utf8')) as { accounts: Array<{ email: string; utilization_5h: unknown; utilization_7d: unknown }> };
  return data.accounts.find((a) => a.email === email)!;
}

/**
 * 5h/7d utilization and reset times are kept with the account across a restart of the process,
 * and a window that reset while the service was stopped is dropped when it starts again.
 */
export async function utilizationSurvivesRestartUntilReset(rig: RestartRig, fakes: OAuthFakes, file: string): Promise<void> {
  const email = 'util@example.com';
  const nowS = () => Math.floor(Date.now() / 1000);
  const reset7 = nowS() + 7 * 24 * 3600;
  const first = await rig.start();
  try {
    await rig.login(first, email);
    const reset5 = nowS() + 3600;
    fakes.upstream.onRequest(() => ({ kind: 'json', headers: utilizationHeaders(0.42, reset5, 0.25, reset7) }));
    expect((await rig.ask(first)).status).toBe(200);
    expect((await first.stop('SIGTERM')).code).toBe(0);
    fakes.upstream.reset();

    const second = await rig.start();
    expect(await utilizationOf(rig, second, email)).toEqual({
      utilization_5h: 0.42,
      resets_5h_at: new Date(reset5 * 1000).toISOString(),
      utilization_7d: 0.25,
      resets_7d_at: new Date(reset7 * 1000).toISOString(),
    });
    // A 5h window that resets while the service is stopped.
    const soon = nowS() + 2;
    fakes.upstream.onRequest(() => ({ kind: 'json', headers: utilizationHeaders(0.5, soon, 0.3, reset7) }));
    expect((await rig.ask(second)).status).toBe(200);
    expect((await second.stop('SIGTERM')).code).toBe(0);
    fakes.upstream.reset();
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(soon * 1000), { timeout: 5000, interval: 50 });

    const third = await rig.start();
    try {
      expect(await utilizationOf(rig, third, email)).toEqual({
        utilization_5h: null,
        resets_5h_at: null,
        utilization_7d: 0.3,
        resets_7d_at: new Date(reset7 * 1000).toISOString(),
      });
      expect((await rig.ask(third)).status).toBe(200); // its usage write leaves the past window out
    } finally {
      await third.stop('SIGTERM');
    }
    expect(storedRecord(file, email)).toMatchObject({ utilization_5h: null, utilization_7d: { utilization: 0.3, resets_at: reset7 * 1000 } });
  } finally {
    fakes.upstream.reset();
  }
}
