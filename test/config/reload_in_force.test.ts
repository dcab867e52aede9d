// Reload: the startup output says how (PID, both ways); needs_restart compares with what is in
// force, not with the last file read; a port in use says what to check.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { runCli, startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith, startService } from '../support/harness.js';

describe('reload', () => {
  let upstream: FakeAnthropic;
  beforeAll(async () => {
    upstream = await startFakeAnthropic();
  });
  afterAll(() => upstream.close());

  const config = (settings: Record<string, unknown>) => configWith([apiKeyProvider('p', upstream.url)], settings);

  it('needs_restart names a setting only while the file differs from what is in force', async () => {
    const svc = await startService({ config: config({ port: 9090, oauth: { enable_persistence: false } }) });
    const reload = async () => ((await (await request(`${svc.url}/admin/reload`, { method: 'POST' })).body.json()) as { needs_restart: string[] }).needs_restart;
    try {
      svc.writeConfig(config({ port: 9091, oauth: { enable_persistence: false } }));
      expect(await reload()).toEqual(['port']);
      svc.writeConfig(config({ port: 9090, oauth: { enable_persistence: false } }));
      expect(await reload()).toEqual([]);
      svc.writeConfig(config({ port: 9090, oauth: { enable_persistence: true, store: 'file' } }));
      expect(await reload()).toEqual(['oauth storage']);
      svc.writeConfig(config({ port: 9090, oauth: { enable_persistence: false } }));
      expect(await reload()).toEqual([]);
    } finally {
      await svc.close();
    }
  });

  it('startup prints the PID and both ways to reload, and kill -HUP on that PID reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccb-reload-'));
    const file = join(dir, 'providers.yaml');
    writeFileSync(file, yaml.dump(config({ oauth: { enable_persistence: false } })));
    const proc = await startServiceProcess(['--config', file, '--port', '0']);
    try {
      const pid = proc.child.pid!;
      await proc.waitForStderr(/pid: /);
      expect(proc.stderr()).toContain(`  pid:      ${pid}; after editing the config, reload it: kill -HUP ${pid}   or   curl -X POST ${proc.url}/admin/reload\n`);
      process.kill(pid, 'SIGHUP');
      await proc.waitForStdout(/"msg":"config reloaded"/, 10_000);
    } finally {
      await proc.stop();
    }
  });

  it('a port in use: is the balancer already running?', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const dir = mkdtempSync(join(tmpdir(), 'ccb-port-'));
      const file = join(dir, 'providers.yaml');
      writeFileSync(file, yaml.dump(config({ oauth: { enable_persistence: false } })));
      const result = await runCli(['serve', '--config', file, '--port', String(port)], { timeoutMs: 30_000 });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Cannot listen on 127.0.0.1:${port}: the port is in use. Is the balancer already running? curl http://127.0.0.1:${port}/health\n`);
    } finally {
      taken.close();
    }
  });
});
