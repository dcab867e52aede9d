import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  EXPIRED_MESSAGE, OAUTH_BETA, parseSse, sseEvents, startFakeAnthropic, unifiedHeaders, type FakeAnthropic,
} from './fake-anthropic.js';
import { BAD_CODE, BAD_REFRESH, CLIENT_ID, SCOPES, loginUrlFor, pkce, startFakeOAuth, type FakeOAuth } from './fake-oauth.js';

const json = (r: Response): Promise<any> => r.json();
const REFRESH_SCOPE = SCOPES.filter((s) => s !== 'org:create_api_key').join(' ');

let oauth: FakeOAuth;
let api: FakeAnthropic;

beforeAll(async () => {
  oauth = await startFakeOAuth();
  api = await startFakeAnthropic({ auth: { mode: 'oauth', liveTokens: oauth.liveTokens } });
});
afterAll(async () => {
  await Promise.all([oauth.close(), api.close()]);
});
afterEach(() => {
  api.reset();
  api.auth = { mode: 'oauth', liveTokens: oauth.liveTokens };
});

const postToken = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(oauth.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

async function login(email: string) {
  const p = pkce();
  const shown = await oauth.approve(loginUrlFor(oauth, p), email);
  const [code, state] = shown.split('#');
  const exchange = { grant_type: 'authorization_code', code, state, code_verifier: p.verifier, redirect_uri: oauth.redirectUri, client_id: CLIENT_ID };
  return { p, code, state, exchange, res: await postToken(exchange) };
}

const callApi = (token: string, body: unknown = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [] }, extra: Record<string, string> = {}) =>
  fetch(`${api.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'anthropic-beta': `claude-code-20250219,${OAUTH_BETA}`, 'content-type': 'application/json', ...extra },
    body: JSON.stringify(body),
  });

describe('fake OAuth server', () => {
  it('completes a PKCE login, and a code works only once', async () => {
    const { res, exchange } = await login('a@example.com');
    expect(res.status).toBe(200);
    const tok = await json(res);
    expect(tok).toMatchObject({ token_type: 'Bearer', expires_in: 28800, scope: SCOPES.join(' '), account: { email_address: 'a@example.com' } });
    expect(tok.access_token).toMatch(/^sk-ant-oat01-/);
    expect(tok.refresh_token).toMatch(/^sk-ant-ort01-/);

    const again = await postToken(exchange);
    expect(again.status).toBe(400);
    expect(await json(again)).toEqual({ error: 'invalid_grant', error_description: BAD_CODE });

    const prof = await fetch(oauth.profileUrl, { headers: { authorization: `Bearer ${tok.access_token}` } });
    expect(await json(prof)).toMatchObject({ account: { email: 'a@example.com' }, organization: { organization_type: 'claude_max' } });
  });

  it('rejects a bad verifier, form bodies, a claude-code UA, and expired codes', async () => {
    const p = pkce();
    const [code, state] = (await oauth.approve(loginUrlFor(oauth, p), 'b@example.com')).split('#');
    const base = { grant_type: 'authorization_code', code, state, redirect_uri: oauth.redirectUri, client_id: CLIENT_ID };
    expect((await postToken({ ...base, code_verifier: pkce().verifier })).status).toBe(400);

    const form = await fetch(oauth.tokenUrl, { method: 'POST', body: new URLSearchParams({ ...base, code_verifier: p.verifier }) });
    expect(form.status).toBe(400);
    expect((await json(form)).error).toBe('invalid_request');
    expect((await postToken({ ...base, code_verifier: p.verifier }, { 'user-agent': 'claude-code/2.1.0' })).status).toBe(429);

    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const p2 = pkce();
      const [code2, state2] = (await oauth.approve(loginUrlFor(oauth, p2), 'b@example.com')).split('#');
      vi.setSystemTime(Date.now() + 11 * 60_000);
      const late = await postToken({ ...base, code: code2, state: state2, code_verifier: p2.verifier });
      expect(await json(late)).toEqual({ error: 'invalid_grant', error_description: BAD_CODE });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a malformed authorize query', async () => {
    const p = pkce();
    const good = new URL(loginUrlFor(oauth, p));
    const swapped = new URL(good);
    swapped.searchParams.delete('code');
    swapped.searchParams.append('code', 'true'); // right values, wrong order
    await expect(oauth.approve(swapped.toString(), 'x@example.com')).rejects.toThrow(/in that order/);
    good.searchParams.set('code_challenge_method', 'plain');
    await expect(oauth.approve(good.toString(), 'x@example.com')).rejects.toThrow(/S256/);
    const direct = await fetch(`${loginUrlFor(oauth, p)}&login_hint=x@example.com`, { redirect: 'manual' });
    expect(direct.status).toBe(302);
  });

  it('rotates refresh tokens and rejects the old one', async () => {
    const tok = await json((await login('c@example.com')).res);
    const refresh = (rt: string, extra: object = {}) =>
      postToken({ grant_type: 'refresh_token', refresh_token: rt, client_id: CLIENT_ID, scope: REFRESH_SCOPE, ...extra });

    expect((await postToken({ grant_type: 'refresh_token', refresh_token: tok.refresh_token, client_id: CLIENT_ID })).status).toBe(400);

    oauth.failNext(1, 503, { grant: 'refresh_token' });
    expect((await refresh(tok.refresh_token)).status).toBe(503); // transient: the token survives
    const r1 = await refresh(tok.refresh_token);
    expect(r1.status).toBe(200);
    const t1 = await json(r1);
    expect(t1.refresh_token).not.toBe(tok.refresh_token);
    expect(t1.scope).toBe(REFRESH_SCOPE);
    expect(oauth.currentRefreshToken('c@example.com')).toBe(t1.refresh_token);

    const old = await refresh(tok.refresh_token);
    expect(old.status).toBe(400);
    expect(await json(old)).toEqual({ error: 'invalid_grant', error_description: BAD_REFRESH });
    expect(oauth.refreshCallsFor('c@example.com')).toBe(4);

    oauth.omitRefreshTokenOnRefresh = true;
    const t2 = await json(await refresh(t1.refresh_token));
    expect(t2.refresh_token).toBeUndefined();
    expect((await refresh(t1.refresh_token)).status).toBe(200);
    oauth.omitRefreshTokenOnRefresh = false;

    oauth.revokeRefreshToken('c@example.com');
    expect((await refresh(t1.refresh_token)).status).toBe(400);
    expect(oauth.currentRefreshToken('c@example.com')).toBeUndefined();
  });
});

describe('fake Messages API', () => {
  it('accepts only live OAuth tokens with the beta and no x-api-key', async () => {
    const tok = await json((await login('d@example.com')).res);
    const ok = await callApi(tok.access_token);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('request-id')).toMatch(/^req_/);
    expect(await json(ok)).toMatchObject({ type: 'message', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'Hello from fake' }] });

    expect((await callApi(tok.access_token, undefined, { 'anthropic-beta': 'claude-code-20250219' })).status).toBe(401);
    expect((await callApi(tok.access_token, undefined, { 'x-api-key': 'sk-ant-api03-x' })).status).toBe(401);
    const unknown = await json(await callApi('nope'));
    expect(unknown.error.message).toBe('Invalid bearer token');
    expect(unknown.request_id).toMatch(/^req_/);

    oauth.revokeAccessTokens('d@example.com');
    const expired = await callApi(tok.access_token);
    expect(expired.status).toBe(401);
    expect((await json(expired)).error).toEqual({ type: 'authentication_error', message: EXPIRED_MESSAGE });
    expect(api.requests).toHaveLength(5);
    expect(JSON.parse(api.requests[4].body.toString()).model).toBe('claude-sonnet-4-5');
  });

  it('plays scripted steps in order, then falls back to defaults', async () => {
    api.auth = { mode: 'api_key', keys: new Set(['k1']) };
    const call = () => fetch(`${api.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k1' }, body: '{"model":"m"}' });
    const reset = Math.floor(Date.now() / 1000) + 3600;
    api.script(
      { kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset, util5h: 1.02 }) },
      { kind: 'reset' },
      { kind: 'delay', ms: 30, then: { kind: 'json', status: 529 } },
    );
    const r429 = await call();
    expect(r429.status).toBe(429);
    expect(r429.headers.get('anthropic-ratelimit-unified-status')).toBe('rejected');
    expect(r429.headers.get('anthropic-ratelimit-unified-reset')).toBe(String(reset));
    expect((await json(r429)).error.type).toBe('rate_limit_error');
    await expect(call()).rejects.toThrow();
    expect((await json(await call())).error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    expect((await json(await call())).model).toBe('m');

    api.onRequest((r) => (r.url.includes('count_tokens') ? { kind: 'json', status: 413 } : undefined));
    const big = await fetch(`${api.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'x-api-key': 'k1' }, body: '{}' });
    expect(big.status).toBe(413);
    const models = await json(await fetch(`${api.url}/v1/models`, { headers: { 'x-api-key': 'k1' } }));
    expect(models).toMatchObject({ data: [{ id: 'claude-sonnet-4-5', type: 'model' }], has_more: false });
    expect((await fetch(`${api.url}/v1/models/nope`, { headers: { 'x-api-key': 'k1' } })).status).toBe(404);
  });

  it('streams the default SSE sequence, and drops mid-stream on request', async () => {
    api.auth = { mode: 'any' };
    const stream = () => fetch(`${api.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'claude-opus-4-1', stream: true }) });
    const res = await stream();
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toEqual(sseEvents().map((e) => e.event));
    expect(events.map((e) => e.event)).toEqual([
      'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect((events[0].data as any).message.model).toBe('claude-opus-4-1');
    const text = events.filter((e) => e.event === 'content_block_delta').map((e) => (e.data as any).delta.text).join('');
    expect(text).toBe('Hello from fake');

    api.script({ kind: 'drop', afterEvents: 2 });
    const dropped = await stream();
    expect(dropped.status).toBe(200);
    let got = '';
    const dec = new TextDecoder();
    await expect((async () => { for await (const c of dropped.body!) got += dec.decode(c as Uint8Array); })()).rejects.toThrow();
    expect(parseSse(got).map((e) => e.event)).toEqual(['message_start', 'content_block_start']);
    expect(api.requests[1].aborted).toBe(false);
  });

  it('detects a client that disconnects mid-response', async () => {
    api.auth = { mode: 'any' };
    let release!: () => void;
    api.script({ kind: 'hang' }, { kind: 'sse', hold: new Promise<void>((r) => (release = r)) });

    const ac = new AbortController();
    const hung = fetch(`${api.url}/v1/messages`, { method: 'POST', body: '{}', signal: ac.signal });
    await api.waitForRequests(1);
    ac.abort();
    await expect(hung).rejects.toThrow();
    await api.waitForAbort(0);

    const held = await fetch(`${api.url}/v1/messages`, { method: 'POST', body: '{"model":"m","stream":true}' });
    const reader = held.body!.getReader();
    await reader.read();
    release();
    let rest = '';
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    expect(rest).toContain('event: message_stop');
    expect(api.requests[1].aborted).toBe(false);
  });
});
