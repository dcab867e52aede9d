import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseSse, startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startServiceProcess } from '../support/cli.js';
import { apiKeyProvider, configWith } from '../support/harness.js';

describe('graceful shutdown', () => {
  let upstream: FakeAnthropic;
  let file: string;
  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    file = join(mkdtempSync(join(tmpdir(), 'ccb-stop-')), 'providers.yaml');
    writeFileSync(file, yaml.dump(configWith([apiKeyProvider('A', upstream.url)], { oauth: { enable_persistence: false } })));
  });
  afterAll(() => upstream.close());

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: stops accepting, lets the in-flight stream finish, exits 0`, async () => {
      const proc = await startServiceProcess(['--config', file, '--port', '0']);
      upstream.reset();
      let release!: () => void;
      upstream.script({ kind: 'sse', hold: new Promise<void>((r) => (release = r)) });
      const res = await request(`${proc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"model":"m","max_tokens":1,"stream":true,"messages":[]}',
      });
      expect(res.statusCode).toBe(200);
      const text = res.body.text();
      await upstream.waitForRequests(1);

      proc.child.kill(signal);
      await proc.waitForStdout(/shutting down/);
      await expect(request(`${proc.url}/health`, { reset: true })).rejects.toThrow();

      release();
      const events = parseSse(await text);
      expect(events.at(-1)?.event).toBe('message_stop');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
    });
  }
});
