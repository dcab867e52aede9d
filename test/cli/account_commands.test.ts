import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, interactiveLogin, runCli, startCliTarget, type CliTarget } from '../support/cli.js';
import type { RunningService } from '../support/harness.js';
import type { OAuthFakes } from '../support/oauth-setup.js';
import { it as poolIt } from '../support/pool.js';
import { cliCommand } from '../../src/hints/cli-command.js';

describe('account commands of the CLI against the running service', () => {
  let fakes: OAuthFakes;
  let svc: RunningService;
  let target: CliTarget;

  beforeAll(async () => {
    target = await startCliTarget();
    ({ fakes, svc } = target);
  });
  afterAll(() => target?.close());

  it('login: prints the URL, takes the pasted CODE#STATE, and reports the account and pool size', async () => {
    const result = await interactiveLogin(['--url', svc.url], (url) => fakes.oauth.approve(url, 'alice@example.com'));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(fakes.oauth.authorizeUrl);
    expect(result.stdout).toMatch(/Logged in alice@example\.com\. Its token expires \S+ \(in 7h 59m|8h 0m\)/);
    expect(result.stdout).toContain('The pool now holds 1 account.');
    expect(svc.service.oauth.pool.list().map((a) => a.record.email)).toEqual(['alice@example.com']);
  });

  it('login: a wrong code prints the reason and asks again; the next good one works', async () => {
    const result = await interactiveLogin(['--url', svc.url, '--email', 'bob@example.com'], async (url, attempt) => {
      if (attempt === 1) return `WRONGCODE#${new URL(url).searchParams.get('state')}`;
      return fakes.oauth.approve(url, 'bob@example.com');
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/That did not work: .*invalid_grant/);
    expect(result.stderr).toMatch(/\nCodes are single-use: open the URL again for a fresh code \(the URL is valid until \d\d:\d\d\)\.\n/);
    expect((result.stderr.match(/Paste the code/g) ?? []).length).toBe(2);
    expect(result.stdout).toContain('Logged in bob@example.com');
    expect(result.stdout).toContain('The pool now holds 2 accounts.');
  });

  it('login: an empty line leaves cleanly and changes nothing', async () => {
    const result = await interactiveLogin(['--url', svc.url], async () => '');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Login cancelled; nothing changed.');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(svc.service.oauth.pool.list()).toHaveLength(2);
  });

  it('login: end of input (Ctrl-D) leaves cleanly', async () => {
    const result = await interactiveLogin(['--url', svc.url], async () => null);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Login cancelled');
  });

  it('login: Ctrl-C leaves cleanly', async () => {
    const child = spawn(process.execPath, [CLI, 'login', '--no-browser', '--url', svc.url], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Paste the code')) resolve();
      }),
    );
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(130);
    expect(stderr).toContain('Login cancelled; nothing changed.');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('accounts: a table of email, status, expiry, usage, last use and limits', async () => {
    const result = await runCli(['accounts', '--url', svc.url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^EMAIL\s+STATUS\s+EXPIRES IN\s+USES\s+LAST USED\s+5H\s+7D\s+RESETS$/);
    expect(lines[1]).toMatch(/^alice@example\.com\s+active\s+(7h 59m|8h 0m)\s+0\s+never\s+-\s+-\s+-$/);
    expect(lines[2]).toMatch(/^bob@example\.com\s+active/);
    expect(result.stdout).toContain(`2 of 2 accounts can serve. Dashboard: ${svc.url}/\n`);
    expect(result.stdout).not.toContain('sk-ant-');
  });

  it('refresh: refreshes one account now', async () => {
    const result = await runCli(['refresh', 'alice@example.com', '--url', svc.url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Refreshed alice@example\.com; the token now expires/);
    expect(fakes.oauth.refreshCallsFor('alice@example.com')).toBe(1);
  });

  it('logout: one account, then --all only after confirming', async () => {
    const one = await runCli(['logout', 'bob@example.com', '--url', svc.url]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('Removed bob@example.com. 1 account(s) left.');

    const unknown = await runCli(['logout', 'nobody@example.com', '--url', svc.url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No account nobody@example.com');

    const declined = await runCli(['logout', '--all', '--url', svc.url], { input: 'n\n' });
    expect(declined.stdout).toContain('Nothing removed.');
    expect(svc.service.oauth.pool.list()).toHaveLength(1);

    const confirmed = await runCli(['logout', '--all', '--url', svc.url], { input: 'y\n' });
    expect(confirmed.code).toBe(0);
    expect(confirmed.stdout).toContain('Removed 1 account.');
    expect(svc.service.oauth.pool.list()).toHaveLength(0);

    const empty = await runCli(['accounts', '--url', svc.url]);
    expect(empty.stdout).toContain(`No Claude account is logged in: log one in with ${cliCommand('login')} or on the dashboard at ${svc.url}/\n`);
  });

  it('every command says the service is not running, and how to start it, with exit 1', async () => {
    for (const args of [['login'], ['accounts'], ['logout', '--all', '--yes'], ['refresh', 'a@b.c']]) {
      const result = await runCli([...args, '--url', 'http://127.0.0.1:9']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('The balancer is not running at http://127.0.0.1:9.');
      expect(result.stderr).toContain(`Start it first: ${cliCommand('serve')}`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('the accounts table shows where each account stands', () => {
  poolIt('banned and needs_login, with what to do about each', async ({ startPool }) => {
    const pool = await startPool({ oauth: { strategy: 'round_robin' }, accounts: ['alice@example.com', 'bob@example.com', 'carol@example.com'] });
    const banned = 'OAuth authentication is currently not allowed for this organization.';
    pool.upstream.script({ kind: 'json', status: 403, body: { type: 'error', error: { type: 'permission_error', message: banned } } });
    expect(await pool.servedBy()).toBe('bob@example.com');
    pool.oauth.revokeAccessTokens('bob@example.com');
    pool.oauth.revokeRefreshToken('bob@example.com');
    // Round robin: carol is next, then bob, who is refused and fails over to carol.
    expect(await pool.servedBy()).toBe('carol@example.com');
    expect(await pool.servedBy()).toBe('carol@example.com');

    const result = await runCli(['accounts', '--url', pool.svc.url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    // No expiry countdown for accounts that will not be refreshed.
    expect(lines[1]).toMatch(/^alice@example\.com\s+banned\s+—\s+\d+\s/);
    expect(lines[2]).toMatch(/^bob@example\.com\s+needs_login\s+login needed\s+\d+\s/);
    expect(lines[3]).toMatch(/^carol@example\.com\s+active\s/);
    expect(result.stdout).toContain('1 of 3 accounts can serve.');
    expect(result.stdout).toContain(`bob@example.com needs a new login: ${cliCommand('login --email bob@example.com')}`);
    expect(result.stdout).toContain(`alice@example.com is banned (${banned}); it is never refreshed.`);
  });

  poolIt('USES counts client requests served: a 401, a refresh and the retry count once; attempts apart', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    pool.upstream.script({ kind: 'json', status: 401 });
    expect(await pool.servedBy()).toBe('alice@example.com');
    expect(pool.upstream.requests).toHaveLength(2);
    expect(await pool.shown('alice@example.com')).toMatchObject({ usage_count: 1, attempts: 2 });
    const result = await runCli(['accounts', '--url', pool.svc.url]);
    expect(result.stdout.trim().split('\n')[1]).toMatch(/^alice@example\.com\s+active\s+\S+( \S+)?\s+1\s+just now\s/);
  });

  poolIt('RESETS: when a rate-limited account comes back', async ({ startPool }) => {
    const pool = await startPool({ oauth: { strategy: 'round_robin' }, accounts: ['alice@example.com', 'bob@example.com'] });
    const reset = Math.floor(Date.now() / 1000) + 3600;
    pool.upstream.script({ kind: 'json', status: 429, headers: { 'anthropic-ratelimit-unified-reset': String(reset) } });
    expect(await pool.servedBy()).toBe('bob@example.com');
    const result = await runCli(['accounts', '--url', pool.svc.url]);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^alice@example\.com\s+rate_limited\s.*\sback in (59m|1h 0m)$/);
    expect(lines[2]).toMatch(/^bob@example\.com\s+active\s.*\s-$/);
  });
});
