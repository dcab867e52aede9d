// Issue 3, login: PKCE authorize URL, pending logins by state, the exchange in all its pasted
// forms, and what the pool looks like after failures.
import { describe, expect } from 'vitest';
import { AUTHORIZE_PARAMS, BAD_CODE, CLIENT_ID, SCOPES } from '../fakes/fake-oauth.js';
import { OAUTH_BETA } from '../fakes/fake-anthropic.js';
import { startFakeAnthropic } from '../fakes/fake-anthropic.js';
import { it, admin, fakeClock, MINUTE, postMessage, type Pool } from '../support/pool.js';

const generateUrl = async (p: Pool) => {
  const res = await admin(p.svc.url, 'GET', '/oauth/generate-url');
  expect(res.status).toBe(200);
  return res.json as { login_url: string; state: string; expires_at: string; expires_in_minutes: number; instructions: string[] };
};
const exchange = (p: Pool, body: Record<string, unknown>) => admin(p.svc.url, 'POST', '/oauth/exchange-code', { body });
const emails = async (p: Pool) => (await p.status()).tokens.map((t: { account_email: string }) => t.account_email).sort();

describe('login through the 401 a client gets when no account is logged in', () => {
  it('gives a URL and the curl command; after approving and exchanging CODE#STATE the same request succeeds', async ({ startPool }) => {
    const pool = await startPool();
    const { svc, oauth, upstream } = pool;

    const refused = await postMessage(svc.url);
    expect(refused.status).toBe(401);
    expect(refused.json.type).toBe('error');
    expect(refused.json.error.type).toBe('authentication_error');
    expect(refused.headers['x-should-retry']).toBe('false');
    const message: string = refused.json.error.message;
    // The next step first, in one sentence naming this service; the long URL after it.
    const headline = message.split('\n')[0];
    expect(headline).toMatch(new RegExp(`^claude-code-balancer \\(${svc.url.replace(/\./g, '\\.')}\\) has no Claude account that can serve: log one in with (claude-code-balancer|node \\S+/dist/cli\\.js) login or on the dashboard at ${svc.url.replace(/\./g, '\\.')}/$`));
    expect(message).toContain('(no Claude account is logged in;');
    const loginUrl = /(https?:\/\/\S+\/oauth\/authorize\?\S+)/.exec(message)?.[1];
    expect(loginUrl, message).toBeDefined();
    expect(message).toContain(`curl -X POST ${svc.url}/oauth/exchange-code`);
    expect(upstream.requests).toHaveLength(0);

    const shown = await oauth.approve(loginUrl!, 'alice@example.com');
    expect(shown).toMatch(/^[^#]+#[^#]+$/);
    const done = await exchange(pool, { code: shown });
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ status: 'success', account_email: 'alice@example.com', scopes: SCOPES });
    expect(Date.parse(done.json.expires_at)).toBeGreaterThan(Date.now() + 7 * 60 * MINUTE);

    // The exchange was the JSON body of the shared doc.
    const call = oauth.tokenCalls.at(-1)!;
    expect(call).toMatchObject({ grant_type: 'authorization_code', status: 200 });
    expect(Object.keys(call.body).sort()).toEqual(['client_id', 'code', 'code_verifier', 'grant_type', 'redirect_uri', 'state']);
    expect(call.body).toMatchObject({ client_id: CLIENT_ID, redirect_uri: oauth.redirectUri, code: shown.split('#')[0], state: shown.split('#')[1] });

    const served = await postMessage(svc.url);
    expect(served.status).toBe(200);
    expect(served.json.type).toBe('message');
    expect(served.headers['x-balancer-account']).toBe('alice@example.com');
    const seen = upstream.requests.at(-1)!.headers;
    expect(seen.authorization).toMatch(/^Bearer sk-ant-oat01-/);
    expect(String(seen['anthropic-beta']).split(',')).toContain(OAUTH_BETA);
  });
});

describe('GET /oauth/generate-url', () => {
  it('answers login_url, state, expires_at (10 minutes on), expires_in_minutes and instructions', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock });
    const body = await generateUrl(pool);
    expect(Object.keys(body).sort()).toEqual(['expires_at', 'expires_in_minutes', 'instructions', 'login_url', 'state']);
    expect(body.expires_in_minutes).toBe(10);
    expect(Date.parse(body.expires_at)).toBe(clock.now() + 10 * MINUTE);
    expect(body.instructions.join('\n')).toContain(`curl -X POST ${pool.svc.url}/oauth/exchange-code`);

    const url = new URL(body.login_url);
    expect(url.origin + url.pathname).toBe(pool.oauth.authorizeUrl);
    expect([...url.searchParams.keys()]).toEqual([...AUTHORIZE_PARAMS]);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(url.searchParams.get('redirect_uri')).toBe(pool.oauth.redirectUri);
    expect(url.searchParams.get('scope')).toBe(SCOPES.join(' '));
    expect(url.searchParams.get('state')).toBe(body.state);
    // 32 random bytes, base64url without padding.
    expect(body.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const other = await generateUrl(pool);
    expect(other.state).not.toBe(body.state);
    expect(new URL(other.login_url).searchParams.get('code_challenge')).not.toBe(url.searchParams.get('code_challenge'));
  });
});

describe('POST /oauth/exchange-code', () => {
  it('completes two pending logins in either order', async ({ startPool }) => {
    const pool = await startPool();
    const a = await generateUrl(pool);
    const b = await generateUrl(pool);
    const codeA = await pool.oauth.approve(a.login_url, 'a@example.com');
    const codeB = await pool.oauth.approve(b.login_url, 'b@example.com');
    expect((await exchange(pool, { code: codeB })).json).toMatchObject({ status: 'success', account_email: 'b@example.com' });
    expect((await exchange(pool, { code: codeA })).json).toMatchObject({ status: 'success', account_email: 'a@example.com' });

    const c = await generateUrl(pool);
    const d = await generateUrl(pool);
    const codeC = await pool.oauth.approve(c.login_url, 'c@example.com');
    const codeD = await pool.oauth.approve(d.login_url, 'd@example.com');
    expect((await exchange(pool, { code: codeC })).json).toMatchObject({ status: 'success', account_email: 'c@example.com' });
    expect((await exchange(pool, { code: codeD })).json).toMatchObject({ status: 'success', account_email: 'd@example.com' });
    expect(await emails(pool)).toEqual(['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']);
  });

  it('refuses a state that matches no pending login, without calling the token endpoint', async ({ startPool }) => {
    const pool = await startPool();
    const login = await generateUrl(pool);
    const shown = await pool.oauth.approve(login.login_url, 'alice@example.com');
    const code = shown.split('#')[0];

    const wrong = await exchange(pool, { code: `${code}#not-the-state` });
    expect(wrong.status).toBe(400);
    expect(wrong.json).toEqual({
      status: 'error',
      error: 'no_pending_login',
      message:
        'The state in the code does not match a pending login: it is wrong, was already used, or expired after 10 minutes. Generate a new URL with GET /oauth/generate-url.',
    });
    expect(pool.oauth.tokenCalls).toHaveLength(0);
    expect(await emails(pool)).toEqual([]);

    // The code was not spent: the right pair still works.
    expect((await exchange(pool, { code: shown })).status).toBe(200);
  });

  it('refuses a login older than 10 minutes', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock });
    const fresh = await generateUrl(pool);
    const stale = await generateUrl(pool);
    const freshCode = await pool.oauth.approve(fresh.login_url, 'fresh@example.com');
    const staleCode = await pool.oauth.approve(stale.login_url, 'stale@example.com');

    await clock.advance(9 * MINUTE);
    expect((await exchange(pool, { code: freshCode })).status).toBe(200);

    await clock.advance(MINUTE + 1000);
    const expired = await exchange(pool, { code: staleCode });
    expect(expired.status).toBe(400);
    expect(expired.json.error).toBe('no_pending_login');
    expect(expired.json.message).toContain('it is wrong, was already used, or expired after 10 minutes.');
    expect(await emails(pool)).toEqual(['fresh@example.com']);
  });

  it('passes on the token endpoint refusing a used code as 400 invalid_grant, and a repeated CODE#STATE as 400', async ({ startPool }) => {
    const pool = await startPool();
    const login = await generateUrl(pool);
    const shown = await pool.oauth.approve(login.login_url, 'alice@example.com');
    expect((await exchange(pool, { code: shown })).status).toBe(200);

    // Same CODE#STATE again: that login is no longer pending.
    const again = await exchange(pool, { code: shown });
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('no_pending_login');

    // The used code against a new pending login: the token endpoint says invalid_grant.
    await generateUrl(pool);
    const reused = await exchange(pool, { code: shown.split('#')[0] });
    expect(reused.status).toBe(400);
    expect(reused.json).toMatchObject({ status: 'error', error: 'invalid_grant', error_description: BAD_CODE });
    expect(pool.oauth.tokenCalls.at(-1)!.status).toBe(400);
    expect((await pool.status()).total_tokens).toBe(1);
  });

  it('accepts the whole callback URL', async ({ startPool }) => {
    const pool = await startPool();
    const login = await generateUrl(pool);
    const [code, state] = (await pool.oauth.approve(login.login_url, 'alice@example.com')).split('#');
    const callback = `${pool.oauth.redirectUri}?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`;
    const res = await exchange(pool, { code: callback });
    expect(res.status).toBe(200);
    expect(res.json.account_email).toBe('alice@example.com');
  });

  it('accepts a bare code for the most recent pending login', async ({ startPool }) => {
    const pool = await startPool();
    await generateUrl(pool);
    const latest = await generateUrl(pool);
    const [code] = (await pool.oauth.approve(latest.login_url, 'alice@example.com')).split('#');
    const res = await exchange(pool, { code });
    expect(res.status).toBe(200);
    expect(res.json.account_email).toBe('alice@example.com');
    expect(pool.oauth.tokenCalls.at(-1)!.body.state).toBe(latest.state);
  });

  it('keys the account by the token\'s email; an account_email differing only in case is accepted, and a new login keeps the usage statistics', async ({ startPool }) => {
    const pool = await startPool();
    const first = await generateUrl(pool);
    const code1 = await pool.oauth.approve(first.login_url, 'work@example.com');
    const res = await exchange(pool, { code: code1, account_email: ' Work@Example.COM ' });
    expect(res.status).toBe(200);
    expect(res.json.account_email).toBe('work@example.com');
    expect(await emails(pool)).toEqual(['work@example.com']);

    for (let i = 0; i < 3; i++) expect((await postMessage(pool.svc.url)).status).toBe(200);
    const oldToken = pool.upstream.requests.at(-1)!.headers.authorization;

    const second = await generateUrl(pool);
    const code2 = await pool.oauth.approve(second.login_url, 'work@example.com');
    expect((await exchange(pool, { code: code2, account_email: 'WORK@example.com' })).status).toBe(200);
    const status = await pool.status();
    expect(status.total_tokens).toBe(1);
    expect(status.tokens[0]).toMatchObject({ account_email: 'work@example.com', usage_count: 3, status: 'active' });

    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect(pool.upstream.requests.at(-1)!.headers.authorization).not.toBe(oldToken);
  });

  it('refuses an account_email naming another account than the token\'s (response or profile) with both addresses, stores nothing, and spends the login', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['carol@example.com'] });
    const before = await pool.status();
    for (const emailIn of ['token', 'profile'] as const) {
      pool.oauth.emailIn = emailIn;
      const login = await generateUrl(pool);
      const shown = await pool.oauth.approve(login.login_url, 'dave@example.com');
      const refused = await exchange(pool, { code: shown, account_email: 'carol@example.com' });
      expect(refused.status).toBe(400);
      expect(refused.json).toEqual({
        status: 'error',
        error: 'account_email_mismatch',
        message:
          'This code signs in dave@example.com, not carol@example.com; nothing was stored. Start a new login and sign in as carol@example.com, or leave out account_email to add dave@example.com.',
        token_email: 'dave@example.com',
        account_email: 'carol@example.com',
      });
      expect(await pool.status()).toEqual(before);
      // The code was spent at the token endpoint: its login is gone, a retry starts a new one.
      const again = await exchange(pool, { code: shown });
      expect(again.status).toBe(400);
      expect(again.json.error).toBe('no_pending_login');
      expect(await pool.status()).toEqual(before);
    }
  });

  it('keys the account by account_email when neither the token response nor the profile has an email, and refuses without one', async ({ startPool }) => {
    const pool = await startPool();
    pool.oauth.emailIn = 'nowhere';
    const login = await generateUrl(pool);
    const shown = await pool.oauth.approve(login.login_url, 'anon@example.com');
    const named = await exchange(pool, { code: shown, account_email: 'Named@example.com' });
    expect(named.status).toBe(200);
    expect(named.json.account_email).toBe('Named@example.com');

    const other = await generateUrl(pool);
    const unnamed = await exchange(pool, { code: await pool.oauth.approve(other.login_url, 'anon@example.com') });
    expect(unnamed.status).toBe(400);
    expect(unnamed.json.message).toBe('No account email: neither the token response nor the profile has one, so pass account_email with the code.');
    expect(await emails(pool)).toEqual(['Named@example.com']);
  });

  it('answers 400 for a body without a code or with a bad account_email', async ({ startPool }) => {
    const pool = await startPool();
    expect((await exchange(pool, {})).status).toBe(400);
    expect((await exchange(pool, { code: '' })).status).toBe(400);
    expect((await exchange(pool, { code: 'x#y', account_email: 'not-an-email' })).status).toBe(400);
  });

  it('answers 502 when the token endpoint fails, and leaves the pool and the pending login as they were', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['existing@example.com'] });
    const before = await pool.status();
    const login = await generateUrl(pool);
    const shown = await pool.oauth.approve(login.login_url, 'new@example.com');

    pool.oauth.failNext(1, 500, { grant: 'authorization_code' });
    const failed = await exchange(pool, { code: shown });
    expect(failed.status).toBe(502);
    expect(failed.json).toMatchObject({
      status: 'error',
      error: 'token_endpoint_unreachable',
      message: 'could not reach the token endpoint (HTTP 500: Internal server error); the code is still good, paste it again',
    });
    expect(await pool.status()).toEqual(before);

    pool.oauth.failNext(1, 'reset', { grant: 'authorization_code' });
    const reset = await exchange(pool, { code: shown });
    expect(reset.status).toBe(502);
    expect(reset.json.error).toBe('token_endpoint_unreachable');
    expect(reset.json.message).toMatch(/^could not reach the token endpoint \(.+\); the code is still good, paste it again$/);
    expect(reset.json.message).not.toMatch(/sk-ant-|code_verifier/);
    expect(await pool.status()).toEqual(before);

    // Nothing was spent: the same code completes the login once the endpoint is back.
    const retried = await exchange(pool, { code: shown });
    expect(retried.status).toBe(200);
    expect(await emails(pool)).toEqual(['existing@example.com', 'new@example.com']);
  });

  it('answers 502 when the token endpoint cannot be reached', async ({ startPool }) => {
    const closed = await startFakeAnthropic();
    const deadUrl = `${closed.url}/v1/oauth/token`;
    await closed.close();
    const pool = await startPool({ oauth: { token_url: deadUrl } });
    const login = await generateUrl(pool);
    const res = await exchange(pool, { code: `some-code#${login.state}` });
    expect(res.status).toBe(502);
    expect(res.json.error).toBe('token_endpoint_unreachable');
    expect(res.json.message).toMatch(/^could not reach the token endpoint \(ECONNREFUSED: .+\); the code is still good, paste it again$/);
    expect((await pool.status()).total_tokens).toBe(0);
  });
});
