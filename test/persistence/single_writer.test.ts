import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServiceProcess } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';
import { restartRig } from './restarts.js';

/** A pid that certainly belongs to no running process: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('a file store has one writer', { timeout: 60_000 }, () => {
  let fakes: OAuthFakes;
  beforeAll(async () => {
    fakes = await startOAuthFakes();
  });
  afterAll(() => fakes.close());

  const configFor = (file: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ccb-writer-'));
    const path = join(dir, 'providers.yaml');
    writeFileSync(
      path,
      yaml.dump(
        configWith([oauthProvider(fakes.upstream.url)], {
          oauth: oauthSettingsFor(fakes.oauth, { store: 'file', file_path: file }),
        }),
      ),
    );
    return path;
  };

  it('a second serve on the same file exits 1 naming the file, the other pid and store: redis', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-writer-')), 'accounts.json');
    const first = await startServiceProcess(['--config', configFor(file), '--port', '0']);
    try {
      const second = await runCli(['serve', '--config', configFor(file), '--port', '0']);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`account file ${file} is in use by another claude-code-balancer (pid ${first.child.pid},`);
      expect(second.stderr).toContain('settings.oauth.store: redis');
      expect(second.stderr).toContain('The service did not start.');
      expect(second.stderr).not.toContain('listening on');
    } finally {
      expect((await first.stop()).code).toBe(0);
    }
    // A graceful stop lets go of the lock.
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('a lock left by a kill -9ed service is taken over, and the logins in the file still serve', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-writer-')), 'accounts.json');
    const rig = restartRig(fakes, { store: 'file', file_path: file }, () => process.env);
    const first = await rig.start();
    await rig.login(first, 'kept@example.com');
    await rig.kill9(first);
    const left = JSON.parse(readFileSync(`${file}.lock`, 'utf8')) as { pid: number };
    expect(left.pid).toBe(first.child.pid);

    const second = await rig.start();
    try {
      expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(second.child.pid);
      expect(await rig.ask(second)).toEqual({ status: 200, account: 'kept@example.com' });
    } finally {
      await second.stop();
    }
  });

  it('a lock naming a dead pid, or a live pid that started later than the lock says, is stale', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-writer-')), 'accounts.json');
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: await deadPid(), host: hostname(), start: null, since: 'x', nonce: 'dead' }));
    const first = await startServiceProcess(['--config', configFor(file), '--port', '0']);
    await first.stop();

    // pid 1 runs, but not since the start time this lock records: a recycled pid.
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 1, host: hostname(), start: '-1', since: 'x', nonce: 'reused' }));
    const second = await startServiceProcess(['--config', configFor(file), '--port', '0']);
    await second.stop();
  });

  it('a lock held on another host is never taken over', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-writer-')), 'accounts.json');
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: await deadPid(), host: 'elsewhere', start: null, since: 'x', nonce: 'far' }));
    const refused = await runCli(['serve', '--config', configFor(file), '--port', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('on host elsewhere');
    expect(refused.stderr).toContain(`If that process is gone, delete ${file}.lock.`);
  });

  it('the account commands talk to the running service, not to the locked file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-writer-')), 'accounts.json');
    const rig = restartRig(fakes, { store: 'file', file_path: file }, () => process.env);
    const proc = await rig.start();
    try {
      await rig.login(proc, 'listed@example.com');
      const listed = await runCli(['accounts', '--url', proc.url]);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('listed@example.com');
    } finally {
      await proc.stop();
    }
  });
});
