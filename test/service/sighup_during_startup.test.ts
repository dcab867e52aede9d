// Issue 10.8: a SIGHUP while the service starts (here: while the keyring probe waits on a D-Bus
// that never answers, the slow part of startup) used to end the process. Now it is held, and the
// reload it asked for runs once the service is up.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import yaml from 'js-yaml';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith } from '../support/harness.js';
import { clientEnv } from '../support/secret-service.js';

async function providerServing(url: string): Promise<string> {
  const res = await request(`${url}/health`);
  const body = (await res.body.json()) as { providers: Array<{ name: string }> };
  return body.providers.map((p) => p.name).join(',');
}

describe('SIGHUP during startup', () => {
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

  it('does not kill the process; the reload runs once startup is done', async () => {
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
