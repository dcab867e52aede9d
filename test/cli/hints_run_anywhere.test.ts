// Every command the service prints runs from any folder: `node /abs/dist/cli.js …`, or the bare
// name when PATH leads to this install (npm link); never npx.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliInvocation, shellWord } from '../../src/hints/cli-command.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { CLI, startServiceProcess } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { oauthProvider } from '../support/oauth-setup.js';

const sh = promisify(execFile);
const LOGIN_LINE = /^ {2}accounts: none logged in yet: log one in with (.+) login or on the dashboard at http:\/\/127\.0\.0\.1:\d+\/$/m;

describe('the login hint at startup', () => {
  let upstream: FakeAnthropic;
  let config: string;
  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    const dir = mkdtempSync(join(tmpdir(), 'ccb-hints-'));
    config = join(dir, 'providers.yaml');
    writeFileSync(config, yaml.dump(configWith([oauthProvider(upstream.url)], { oauth: { enable_persistence: false } })));
  });
  afterAll(() => upstream.close());

  /** Starts the service elsewhere, takes the command it prints and runs it (as `accounts`) in yet another folder. */
  async function printedCommandWorks(path: string) {
    const env = { ...process.env, PATH: path };
    const proc = await startServiceProcess(['--config', config, '--port', '0'], { env, cwd: mkdtempSync(join(tmpdir(), 'ccb-cwd-')) });
    try {
      const printed = LOGIN_LINE.exec(proc.stderr())?.[1];
      expect(printed, proc.stderr()).toBeDefined();
      expect(proc.stderr()).not.toContain('npx');
      const elsewhere = mkdtempSync(join(tmpdir(), 'ccb-elsewhere-'));
      const { stdout } = await sh('sh', ['-c', `${printed} accounts --url ${proc.url}`], { cwd: elsewhere, env });
      expect(stdout).toContain(`No Claude account is logged in: log one in with ${printed} login`);
      return printed!;
    } finally {
      await proc.stop();
    }
  }

  it('without the CLI on PATH: node and the absolute path of dist/cli.js', async () => {
    expect(await printedCommandWorks(process.env.PATH!)).toBe(`node ${CLI}`);
  });

  it('after npm link (the bin on PATH leads to this install): the bare name', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'ccb-bin-'));
    symlinkSync(CLI, join(bin, 'claude-code-balancer'));
    chmodSync(CLI, 0o755); // what npm does to a package's bin when it links it
    expect(await printedCommandWorks(`${bin}${delimiter}${process.env.PATH}`)).toBe('claude-code-balancer');
  });
});

describe('cliInvocation', () => {
  const real = (files: Record<string, string>) => (file: string) => files[file] ?? null;

  it('a claude-code-balancer of another install first on PATH is not ours: the absolute form', () => {
    const resolveExecutable = real({ '/other/bin/claude-code-balancer': '/other/lib/cli.js', '/home/u/ccb/bin/claude-code-balancer': '/home/u/ccb/dist/cli.js' });
    expect(cliInvocation({ cliPath: '/home/u/ccb/dist/cli.js', pathEnv: '/other/bin:/home/u/ccb/bin', resolveExecutable })).toBe('node /home/u/ccb/dist/cli.js');
    expect(cliInvocation({ cliPath: '/home/u/ccb/dist/cli.js', pathEnv: '/home/u/ccb/bin:/other/bin', resolveExecutable })).toBe('claude-code-balancer');
  });

  it('a path the shell would split is quoted', () => {
    expect(shellWord("/home/o'neil/my ccb/dist/cli.js")).toBe(`'/home/o'\\''neil/my ccb/dist/cli.js'`);
    expect(cliInvocation({ cliPath: '/my ccb/dist/cli.js', pathEnv: undefined, resolveExecutable: () => null })).toBe("node '/my ccb/dist/cli.js'");
  });
});
