import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith, startService } from '../support/harness.js';
import { clientEnv } from '../support/secret-service.js';

const post = (url: string) =>
  request(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","max_tokens":1,"messages":[]}' });

async function providerServing(url: string): Promise<string | undefined> {
  const res = await post(url);
  await res.body.dump();
  return res.headers['x-balancer-provider'] as string | undefined;
}

describe('reloading the config', () => {
  let a: FakeAnthropic;
  let b: FakeAnthropic;
  beforeAll(async () => {
    a = await startFakeAnthropic();
    b = await startFakeAnthropic();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('POST /admin/reload applies a valid file and refuses a bad one, keeping the running config', async () => {
    const svc = await startService({ config: configWith([apiKeyProvider('A', a.url)]) });
    try {
      expect(await providerServing(svc.url)).toBe('A');
      svc.writeConfig(configWith([apiKeyProvider('B', b.url)]));
      const ok = await request(`${svc.url}/admin/reload`, { method: 'POST' });
      expect(ok.statusCode).toBe(200);
      expect(await ok.body.json()).toMatchObject({ status: 'reloaded' });
      expect(await providerServing(svc.url)).toBe('B');

      svc.writeConfig('providers:\n  - name: "C"\n    base_url: "nope"\n    auth_type: "api_key"\n    auth_value: "x"\n');
      const refused = await request(`${svc.url}/admin/reload`, { method: 'POST' });
      expect(refused.statusCode).toBe(400);
      const body = (await refused.body.json()) as { status: string; errors: string[] };
      expect(body.status).toBe('refused');
      expect(body.errors).toEqual([`${svc.configPath}:3:5: providers[0].base_url: must be an http(s) URL`]);
      expect(await providerServing(svc.url)).toBe('B');
    } finally {
      await svc.close();
    }
  });

  it('SIGHUP re-reads the file; a bad file is refused and the service keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccb-hup-'));
    const file = join(dir, 'providers.yaml');
    const write = (cfg: unknown) => writeFileSync(file, typeof cfg === 'string' ? cfg : yaml.dump(cfg));
    write(configWith([apiKeyProvider('A', a.url)], { oauth: { enable_persistence: false } }));
    const proc = await startServiceProcess(['--config', file, '--port', '0']);
    try {
      expect(await providerServing(proc.url)).toBe('A');
      write(configWith([apiKeyProvider('B', b.url)], { oauth: { enable_persistence: false } }));
      proc.child.kill('SIGHUP');
      await proc.waitForStdout(/"msg":"config reloaded"/);
      expect(await providerServing(proc.url)).toBe('B');

      write('providers: [unclosed\n');
      proc.child.kill('SIGHUP');
      await proc.waitForStderr(/Reload refused; the running config stays in force:\n.*providers\.yaml:\d+:\d+: YAML syntax error/);
      expect(await providerServing(proc.url)).toBe('B');
    } finally {
      await proc.stop();
    }
  });

  it('a SIGHUP while the service starts (keyring probe waiting on a silent D-Bus) does not kill it; the reload runs once it is up (#10.8)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccb-hup-start-'));
    const file = join(dir, 'providers.yaml');
    const write = (name: string, url: string) =>
      writeFileSync(file, yaml.dump(configWith([apiKeyProvider(name, url)], { oauth: { store: 'auto', file_path: join(dir, 'accounts.json') } })));
    write('A', a.url);

    // A session bus that accepts connections and never answers: `store: auto` waits for it (2 s).
    const busPath = join(dir, 'silent-bus');
    let probing!: () => void;
    const probeStarted = new Promise<void>((resolve) => (probing = resolve));
    const connections: Socket[] = [];
    const bus: Server = createServer((connection) => {
      connections.push(connection);
      connection.resume();
      probing();
    });
    await new Promise<void>((resolve) => bus.listen(busPath, resolve));

    let child!: ChildProcess;
    const env = clientEnv({ HOME: dir, XDG_DATA_HOME: dir, XDG_RUNTIME_DIR: dir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${busPath}` });
    const started = startServiceProcess(['--config', file, '--port', '0'], { env, onSpawn: (c) => (child = c) });
    try {
      await Promise.race([probeStarted, started.then(() => Promise.reject(new Error('started without asking the bus')))]);
      // The service is in the middle of starting: nothing is listening yet.
      write('B', b.url);
      child.kill('SIGHUP');
      child.kill('SIGHUP');
      const proc = await started;
      // The probe gave up; ending its connection lets keytar's blocked thread return, so the process can exit.
      for (const c of connections) c.destroy();
      try {
        expect(proc.stderr()).toMatch(/store:\s+file/);
        await proc.waitForStdout(/"msg":"config reloaded"/);
        expect(await providerServing(proc.url)).toBe('B');
        // Two signals while starting ask for one reload.
        expect(proc.stdout().match(/"msg":"config reloaded"/g)).toHaveLength(1);
        expect(child.exitCode).toBeNull();
        expect(child.signalCode).toBeNull();
      } finally {
        await proc.stop();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      bus.close();
    }
  }, 20_000);
});
