import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith } from '../support/harness.js';
import { oauthProvider } from '../support/oauth-setup.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';

function writeConfig(config: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ccb-serve-')), 'providers.yaml');
  writeFileSync(file, yaml.dump(config));
  return file;
}

describe('claude-code-balancer serve', () => {
  let upstream: FakeAnthropic;
  beforeAll(async () => {
    upstream = await startFakeAnthropic();
  });
  afterAll(() => upstream.close());

  it('npm start -- --config X --port N starts the service with that file on that port', async () => {
    const file = writeConfig(configWith([apiKeyProvider('via-npm', upstream.url)], { oauth: { enable_persistence: false } }));
    const child = spawn('npm', ['start', '--silent', '--', '--config', file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        const timer = setTimeout(() => reject(new Error(`no listening line:\n${err}`)), 15_000);
        child.stderr.on('data', (d) => {
          err += d;
          const m = /listening on (http:\/\/\S+)/.exec(err);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      const health = (await (await request(`${url}/health`)).body.json()) as { providers: Array<{ name: string }> };
      expect(health.providers.map((p) => p.name)).toEqual(['via-npm']);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
  });

  it('BALANCER_CONFIG names the file when --config is not given', async () => {
    const file = writeConfig(configWith([apiKeyProvider('from-env', upstream.url)], { oauth: { enable_persistence: false } }));
    const proc = await startServiceProcess(['--port', '0'], { env: { ...process.env, BALANCER_CONFIG: file } });
    try {
      expect(proc.stderr()).toContain(`config:   ${file}`);
      const health = (await (await request(`${proc.url}/health`)).body.json()) as { providers: Array<{ name: string }> };
      expect(health.providers.map((p) => p.name)).toEqual(['from-env']);
    } finally {
      await proc.stop();
    }
  });

  it('prints what a user needs at startup: URL, config, store, and the login hint when no account exists', async () => {
    const file = writeConfig(configWith([oauthProvider(upstream.url)], { oauth: { enable_persistence: false } }));
    const proc = await startServiceProcess(['--config', file, '--port', '0']);
    try {
      // The banner follows the summary lines; wait for the whole startup output.
      await proc.waitForStderr(/PASTE_CODE#STATE_HERE"}'\n=+\n/);
      const out = proc.stderr();
      expect(out).toMatch(/^claude-code-balancer listening on http:\/\/127\.0\.0\.1:\d+$/m);
      expect(out).toContain(`config:   ${file}`);
      expect(out).toMatch(/store:\s+memory/);
      expect(out).toContain(`  dashboard: ${proc.url}/ (log in accounts, see the pool and its usage)\n`);
      expect(out).toMatch(/^  accounts: none logged in yet: log one in with node \S+\/dist\/cli\.js login or on the dashboard at http:\/\/127\.0\.0\.1:\d+\/$/m);
      expect(out).toContain(`has no Claude account that can serve: log one in with `);
      expect(out).toMatch(/^claude-code-balancer \(http:\/\/127\.0\.0\.1:\d+\) has no Claude account that can serve: log one in with .* login or on the dashboard at http:\/\/127\.0\.0\.1:\d+\/$/m);
      expect(out).toContain(`ANTHROPIC_BASE_URL=${proc.url} ANTHROPIC_AUTH_TOKEN=anything claude`);
      // The login banner, with a URL and the exact command for this service.
      expect(out).toContain('CLAUDE CODE OFFICIAL AUTHORIZATION REQUIRED');
      expect(out).toContain(`curl -X POST ${proc.url}/oauth/exchange-code`);
    } finally {
      await proc.stop();
    }
  });

  it('--port given on the command line holds across a reload and is not reported as needing a restart', async () => {
    const file = writeConfig(configWith([apiKeyProvider('p', upstream.url)], { port: 9090, oauth: { enable_persistence: false } }));
    const proc = await startServiceProcess(['--config', file, '--port', '0']);
    try {
      const res = await request(`${proc.url}/admin/reload`, { method: 'POST' });
      expect(await res.body.json()).toMatchObject({ status: 'reloaded', needs_restart: [] });
    } finally {
      await proc.stop();
    }
  });
});
