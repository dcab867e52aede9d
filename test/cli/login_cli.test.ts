// Issue 11 point 6: the `login` command as a user runs it (the built CLI against the running
// service and the fake OAuth server): whose account a code signs in, and a code for another login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactiveLogin } from '../support/cli.js';
import { configWith, startService, type RunningService } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';
import { admin } from '../support/pool.js';

const stateOf = (loginUrl: string) => new URL(loginUrl).searchParams.get('state')!;

describe('claude-code-balancer login', () => {
  let fakes: OAuthFakes;
  let svc: RunningService;
  const poolEmails = async () => {
    const res = await admin(svc.url, 'GET', '/oauth/status');
    return (res.json.tokens as { account_email: string }[]).map((t) => t.account_email).sort();
  };

  beforeAll(async () => {
    fakes = await startOAuthFakes();
    svc = await startService({
      config: configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth) }),
    });
  });
  afterAll(async () => {
    await svc.close();
    await fakes.close();
  });

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
});
