// Issue 11 point 6: the `login` command as a user runs it (the built CLI against the running
// service and the fake OAuth server): whose account a code signs in, and a code for another login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactiveLogin, startCliTarget, type CliTarget } from '../support/cli.js';
import { startService, type RunningService } from '../support/harness.js';
import { oauthPoolConfig, type OAuthFakes } from '../support/oauth-setup.js';
import { admin, fakeClock, MINUTE } from '../support/pool.js';
import { LOGIN_TTL_MS } from '../../src/oauth/pending-logins.js';

const stateOf = (loginUrl: string) => new URL(loginUrl).searchParams.get('state')!;
/** 14:05 in local time, as the CLI (same TZ) shows it. */
const hhmm = (ms: number) => `${String(new Date(ms).getHours()).padStart(2, '0')}:${String(new Date(ms).getMinutes()).padStart(2, '0')}`;

describe('claude-code-balancer login', () => {
  let fakes: OAuthFakes;
  let svc: RunningService;
  let target: CliTarget;
  const poolEmails = async () => {
    const res = await admin(svc.url, 'GET', '/oauth/status');
    return (res.json.tokens as { account_email: string }[]).map((t) => t.account_email).sort();
  };

  beforeAll(async () => {
    target = await startCliTarget();
    ({ fakes, svc } = target);
  });
  afterAll(() => target?.close());

  it('--email naming another account than the one signed in: both addresses, nothing stored, exit 1', async () => {
    const result = await interactiveLogin(['--url', svc.url, '--email', 'carol@example.com'], (url) => fakes.oauth.approve(url, 'dave@example.com'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'This code signs in dave@example.com, not carol@example.com: nothing was stored. ' +
        'Run login again without --email, or run it again and sign in as carol@example.com.\n',
    );
    expect((result.stderr.match(/Paste the code/g) ?? []).length).toBe(1);
    expect(result.stdout).toBe('');
    expect(await poolEmails()).toEqual([]);
  });

  it('the banner says how long its URL is valid, from the expires_at the service answers', async () => {
    // The service's clock runs 4 minutes behind this one: a fixed text or the TTL alone would say 10 minutes.
    const start = Date.now() - 4 * MINUTE;
    const behind = await startService({
      config: oauthPoolConfig(fakes),
      clock: fakeClock(start).clock,
    });
    try {
      const result = await interactiveLogin(['--url', behind.url], async () => '');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`This URL is valid for ${LOGIN_TTL_MS / MINUTE - 4} minutes (until ${hhmm(start + LOGIN_TTL_MS)}).\n`);
    } finally {
      await behind.close();
    }
  });

  it('a code for another login (wrong state): says so in its own words, starts a new login, and the new code works', async () => {
    const urls: string[] = [];
    const result = await interactiveLogin(['--url', svc.url], async (url, attempt) => {
      urls.push(url);
      const [code] = (await fakes.oauth.approve(url, 'erin@example.com')).split('#');
      return attempt === 1 ? `${code}#not-the-state` : `${code}#${stateOf(url)}`;
    });
    expect(result.code).toBe(0);
    expect(urls).toHaveLength(2);
    expect(stateOf(urls[1])).not.toBe(stateOf(urls[0]));
    expect(result.stderr).toContain(
      '\nThat code does not match the current login: it is wrong, was already used, or expired. A new login is started.\n' +
        `\nOpen this URL in a browser and sign in to your Claude account:\n\n  ${urls[1]}\n`,
    );
    expect((result.stderr.match(/Open this URL/g) ?? []).length).toBe(2);
    const withoutUrls = urls.reduce((text, url) => text.split(url).join('<url>'), result.stderr);
    expect(withoutUrls).not.toContain('/oauth/generate-url');
    expect(withoutUrls).not.toContain('GET');
    expect(result.stdout).toContain('Logged in erin@example.com');
    expect(await poolEmails()).toEqual(['erin@example.com']);
  });
});
