import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith, startService } from '../support/harness.js';

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
      expect(body.errors).toEqual([`${svc.configPath}: providers[0].base_url: must be an http(s) URL`]);
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
});
