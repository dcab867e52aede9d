// A fake of Anthropic's OAuth authorization server (authorize, token, profile), per
// /work/shared/docs/anthropic.md. Tokens it issues go into `liveTokens`, which a FakeAnthropic in
// oauth mode shares to decide which bearer tokens it accepts.
import http from 'node:http';
import type { Socket } from 'node:net';
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const CLIENT_ID = '9d1c250a-e61b-44d9-88ed-5944d1962f5e';
export const SCOPES = [
  'org:create_api_key', 'user:profile', 'user:inference', 'user:sessions:claude_code', 'user:mcp_servers', 'user:file_upload',
];
/** The authorize query parameters, in the order Claude Code sends them. */
export const AUTHORIZE_PARAMS = [
  'code', 'client_id', 'response_type', 'redirect_uri', 'scope', 'code_challenge', 'code_challenge_method', 'state',
] as const;
export const BAD_CODE = "Invalid 'code' in request.";
export const BAD_REFRESH = 'Refresh token not found or invalid';
const CODE_TTL_MS = 10 * 60_000;

export interface FakeUser {
  email: string;
  accountUuid: string;
  orgUuid: string;
  orgName: string;
  organizationType: string; // what the profile endpoint reports; mutable
  rateLimitTier: string;
}

export interface TokenCall {
  grant_type: string;
  body: any; // parsed JSON, or the raw text when it was not JSON
  status: number; // 0 = the client went away during delayTokenMs, nothing was processed
}

export interface FakeOAuth {
  url: string;
  port: number;
  authorizeUrl: string;
  tokenUrl: string;
  profileUrl: string;
  redirectUri: string;
  clientId: string;
  liveTokens: Set<string>;
  approve(loginUrl: string, email: string): Promise<string>;
  tokenCalls: TokenCall[];
  refreshCallsFor(email: string): number;
  /** Refresh calls that sent a refresh token an earlier call had already spent (answered 200, or refused as invalid): a provider with reuse detection revokes the grant. */
  refreshTokenReuses(): number;
  accessTokensTtlSeconds: number;
  /** The next n token calls fail: with that status, or 'reset' = the connection is reset before any answer (nothing processed). */
  failNext(n: number, status: 500 | 429 | 503 | 'reset', opts?: { grant?: 'refresh_token' | 'authorization_code' }): void;
  revokeAccessTokens(email: string): void;
  revokeRefreshToken(email: string): void;
  currentRefreshToken(email: string): string | undefined;
  omitRefreshTokenOnRefresh: boolean;
  /** Where the account's email shows: the token response (and the profile), only the profile, or nowhere. */
  emailIn: 'token' | 'profile' | 'nowhere';
  delayTokenMs: number;
  /** Token calls wait from now until the returned function is called (a test orders a race with it). */
  holdTokenCalls(): () => void;
  /** The (get-or-created) user record behind an email; edit it to change the profile. */
  user(email: string): FakeUser;
  close(): Promise<void>;
}

export const base64url = (b: Buffer) => b.toString('base64url');
export const s256 = (verifier: string) => base64url(createHash('sha256').update(verifier).digest());

/** A PKCE pair and state the way Claude Code makes them (32 random bytes each, base64url). */
export function pkce(): { verifier: string; challenge: string; state: string } {
  const verifier = base64url(randomBytes(32));
  return { verifier, challenge: s256(verifier), state: base64url(randomBytes(32)) };
}

/** The login URL a correct client builds for this fake. */
export function loginUrlFor(
  oauth: Pick<FakeOAuth, 'authorizeUrl' | 'clientId' | 'redirectUri'>,
  p: { challenge: string; state: string; scope?: string; redirectUri?: string },
): string {
  const q = new URLSearchParams({
    code: 'true',
    client_id: oauth.clientId,
    response_type: 'code',
    redirect_uri: p.redirectUri ?? oauth.redirectUri,
    scope: p.scope ?? SCOPES.join(' '),
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    state: p.state,
  });
  return `${oauth.authorizeUrl}?${q}`;
}

interface CodeGrant { email: string; challenge: string; redirectUri: string; state: string; scope: string; expiresAt: number; used: boolean }
interface RefreshGrant { email: string; scope: string; dead: boolean }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const anthropicError = (type: string, message: string) => ({ type: 'error', error: { type, message } });
const oauthError = (error: string, error_description: string) => ({ error, error_description });

export async function startFakeOAuth(opts: { liveTokens?: Set<string> } = {}): Promise<FakeOAuth> {
  const sockets = new Set<Socket>();
  const users = new Map<string, FakeUser>();
  const codes = new Map<string, CodeGrant>();
  const refreshTokens = new Map<string, RefreshGrant>();
  const latestRefresh = new Map<string, string>(); // email → newest refresh token
  const accessOwner = new Map<string, string>(); // access token → email
  const failures: Array<{ status: number | 'reset'; grant?: string }> = [];

  const user = (email: string): FakeUser => {
    let u = users.get(email);
    if (!u) {
      u = {
        email, accountUuid: randomUUID(), orgUuid: randomUUID(), orgName: `${email}'s Organization`,
        organizationType: 'claude_max', rateLimitTier: 'default_claude_max_20x',
      };
      users.set(email, u);
    }
    return u;
  };

  function issue(email: string, scope: string, withRefresh: boolean) {
    const u = user(email);
    const access = `sk-ant-oat01-${base64url(randomBytes(48))}`;
    accessOwner.set(access, email);
    fake.liveTokens.add(access);
    let refresh: string | undefined;
    if (withRefresh) {
      refresh = `sk-ant-ort01-${base64url(randomBytes(48))}`;
      refreshTokens.set(refresh, { email, scope, dead: false });
      latestRefresh.set(email, refresh);
    }
    return {
      token_type: 'Bearer',
      access_token: access,
      ...(refresh ? { refresh_token: refresh } : {}),
      expires_in: fake.accessTokensTtlSeconds,
      scope,
      account: { uuid: u.accountUuid, ...(fake.emailIn === 'token' ? { email_address: email } : {}) },
      organization: { uuid: u.orgUuid, name: u.orgName },
    };
  }

  function authorize(u: URL, req: http.IncomingMessage, res: http.ServerResponse) {
    const bad = (why: string) => send(res, 400, { error: 'invalid_request', error_description: why });
    const present = [...u.searchParams.keys()].filter((k) => (AUTHORIZE_PARAMS as readonly string[]).includes(k));
    if (present.join(',') !== AUTHORIZE_PARAMS.join(',')) {
      return bad(`authorize query must be exactly ${AUTHORIZE_PARAMS.join(', ')} (in that order); got ${present.join(', ')}`);
    }
    const q = Object.fromEntries(u.searchParams);
    if (q.code !== 'true') return bad('code must be "true"');
    if (q.client_id !== CLIENT_ID) return bad(`unknown client_id ${q.client_id}`);
    if (q.response_type !== 'code') return bad('response_type must be "code"');
    const redirectOk = q.redirect_uri === fake.redirectUri || /^http:\/\/localhost:\d+\/callback$/.test(q.redirect_uri);
    if (!redirectOk) return bad(`redirect_uri not registered: ${q.redirect_uri}`);
    const scopes = q.scope.split(' ');
    if (!q.scope || scopes.some((s) => !SCOPES.includes(s))) return bad(`invalid scope: ${q.scope}`);
    if (!/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) return bad('code_challenge must be BASE64URL(SHA-256(verifier)) without padding');
    if (q.code_challenge_method !== 'S256') return bad('code_challenge_method must be S256');
    if (!q.state) return bad('state is required');
    const email = q.login_hint || first(req.headers['x-fake-user']);
    if (!email) return bad('fake-oauth: no user (pass login_hint or x-fake-user)');

    const code = base64url(randomBytes(32));
    codes.set(code, {
      email, challenge: q.code_challenge, redirectUri: q.redirect_uri, state: q.state, scope: q.scope,
      expiresAt: Date.now() + CODE_TTL_MS, used: false,
    });
    const to = new URL(q.redirect_uri);
    to.searchParams.set('code', code);
    to.searchParams.set('state', q.state);
    res.writeHead(302, { location: to.toString() }).end();
  }

  let tokenGate: Promise<void> | null = null;
  async function token(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    const isJson = /^application\/json\b/i.test(first(req.headers['content-type']) ?? '');
    let body: any = raw.toString('utf8');
    if (isJson) try { body = JSON.parse(body); } catch { /* keep the raw text */ }
    const call: TokenCall = { grant_type: typeof body?.grant_type === 'string' ? body.grant_type : '', body, status: 0 };
    fake.tokenCalls.push(call);
    let gone = false;
    res.on('close', () => { gone = true; });
    if (fake.delayTokenMs > 0) await sleep(fake.delayTokenMs);
    if (tokenGate) await tokenGate;
    if (gone) return;
    const reply = (status: number, payload: unknown) => { call.status = status; send(res, status, payload); };

    if ((first(req.headers['user-agent']) ?? '').startsWith('claude-code/')) {
      return reply(429, anthropicError('rate_limit_error', 'Rate limited. Please try again later.'));
    }
    if (!isJson || typeof body !== 'object' || body === null) {
      return reply(400, oauthError('invalid_request', 'Invalid request format'));
    }
    const f = failures.findIndex((x) => !x.grant || x.grant === call.grant_type);
    if (f >= 0) {
      const { status } = failures.splice(f, 1)[0];
      if (status === 'reset') return void req.socket.resetAndDestroy();
      return reply(status, status === 429
        ? anthropicError('rate_limit_error', 'Rate limited. Please try again later.')
        : anthropicError('api_error', status === 503 ? 'Service unavailable' : 'Internal server error'));
    }
    if (body.client_id !== CLIENT_ID) return reply(400, oauthError('invalid_client', 'Invalid client_id'));

    if (call.grant_type === 'authorization_code') {
      const { code, state, code_verifier, redirect_uri } = body;
      if (![code, state, code_verifier, redirect_uri].every((v) => typeof v === 'string')) {
        return reply(400, oauthError('invalid_request', 'Invalid request format'));
      }
      const grant = codes.get(code);
      if (!grant || grant.used || Date.now() > grant.expiresAt) return reply(400, oauthError('invalid_grant', BAD_CODE));
      grant.used = true; // any attempt burns the code, like a real single-use code
      if (redirect_uri !== grant.redirectUri) return reply(400, oauthError('invalid_grant', "Invalid 'redirect_uri' in request."));
      if (state !== grant.state) return reply(400, oauthError('invalid_grant', "Invalid 'state' in request."));
      if (s256(code_verifier) !== grant.challenge) return reply(400, oauthError('invalid_grant', "Invalid 'code_verifier' in request."));
      return reply(200, issue(grant.email, grant.scope, true));
    }

    if (call.grant_type === 'refresh_token') {
      const { refresh_token, scope } = body;
      if (typeof refresh_token !== 'string' || typeof scope !== 'string' || !scope) {
        return reply(400, oauthError('invalid_request', 'Invalid request format'));
      }
      const grant = refreshTokens.get(refresh_token);
      if (!grant || grant.dead) return reply(400, oauthError('invalid_grant', BAD_REFRESH));
      const granted = grant.scope.split(' ');
      if (scope.split(' ').some((s) => !granted.includes(s))) return reply(400, oauthError('invalid_scope', `Scope not granted: ${scope}`));
      // Without a new refresh token the client keeps the old one, so only then does it stay valid.
      if (!fake.omitRefreshTokenOnRefresh) grant.dead = true;
      return reply(200, issue(grant.email, scope, !fake.omitRefreshTokenOnRefresh));
    }

    return reply(400, oauthError('unsupported_grant_type', `Unsupported grant_type: ${call.grant_type}`));
  }

  function profile(req: http.IncomingMessage, res: http.ServerResponse) {
    const bearer = /^Bearer (.+)$/i.exec(first(req.headers.authorization) ?? '')?.[1];
    const email = bearer && fake.liveTokens.has(bearer) ? accessOwner.get(bearer) : undefined;
    if (!email) return send(res, 401, anthropicError('authentication_error', 'Invalid bearer token'));
    const u = user(email);
    send(res, 200, {
      account: {
        uuid: u.accountUuid, ...(fake.emailIn === 'nowhere' ? {} : { email }), full_name: email.split('@')[0], display_name: email.split('@')[0],
        has_claude_max: u.organizationType === 'claude_max', has_claude_pro: u.organizationType === 'claude_pro',
        created_at: '2025-01-01T00:00:00Z',
      },
      organization: {
        uuid: u.orgUuid, name: u.orgName, organization_type: u.organizationType, rate_limit_tier: u.rateLimitTier,
        billing_type: 'stripe_subscription', has_extra_usage_enabled: false,
      },
    });
  }

  function send(res: http.ServerResponse, status: number, payload: unknown) {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(12).toString('hex')}` });
    res.end(JSON.stringify(payload));
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', () => {
      const u = new URL(req.url ?? '/', fake.url);
      if (req.method === 'GET' && u.pathname === '/oauth/authorize') return authorize(u, req, res);
      if (req.method === 'POST' && u.pathname === '/v1/oauth/token') {
        return void token(req, res, Buffer.concat(chunks)).catch((err) => res.writeHead(500).end(String(err)));
      }
      if (req.method === 'GET' && u.pathname === '/api/oauth/profile') return profile(req, res);
      if (req.method === 'GET' && u.pathname === '/oauth/code/callback') {
        // The manual-login page: shows CODE#STATE for the user to copy.
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`${u.searchParams.get('code')}#${u.searchParams.get('state')}`);
        return;
      }
      send(res, 404, anthropicError('not_found_error', 'Not found'));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;

  const fake: FakeOAuth = {
    url,
    port,
    authorizeUrl: `${url}/oauth/authorize`,
    tokenUrl: `${url}/v1/oauth/token`,
    profileUrl: `${url}/api/oauth/profile`,
    redirectUri: `${url}/oauth/code/callback`,
    clientId: CLIENT_ID,
    liveTokens: opts.liveTokens ?? new Set(),
    tokenCalls: [],
    accessTokensTtlSeconds: 28800,
    omitRefreshTokenOnRefresh: false,
    emailIn: 'token',
    delayTokenMs: 0,
    holdTokenCalls() {
      let release!: () => void;
      tokenGate = new Promise<void>((resolve) => { release = resolve; });
      return () => { tokenGate = null; release(); };
    },
    user,
    async approve(loginUrl, email) {
      const u = new URL(loginUrl);
      if (u.origin + u.pathname !== fake.authorizeUrl) throw new Error(`fake-oauth: login URL is not on ${fake.authorizeUrl}: ${loginUrl}`);
      const r = await fetch(loginUrl, { redirect: 'manual', headers: { 'x-fake-user': email } });
      if (r.status !== 302) throw new Error(`fake-oauth: authorize refused (${r.status}): ${await r.text()}`);
      const to = new URL(r.headers.get('location') ?? '');
      return `${to.searchParams.get('code')}#${to.searchParams.get('state')}`;
    },
    refreshTokenReuses: () => {
      const spent = new Set<unknown>();
      let reuses = 0;
      for (const c of fake.tokenCalls) {
        if (c.grant_type !== 'refresh_token') continue;
        if (spent.has(c.body?.refresh_token)) reuses++;
        if (c.status === 200 || c.status === 400) spent.add(c.body?.refresh_token);
      }
      return reuses;
    },
    refreshCallsFor: (email) =>
      fake.tokenCalls.filter((c) => c.grant_type === 'refresh_token' && refreshTokens.get(c.body?.refresh_token)?.email === email).length,
    failNext(n, status, o) {
      for (let i = 0; i < n; i++) failures.push({ status, grant: o?.grant });
    },
    revokeAccessTokens(email) {
      for (const [t, owner] of accessOwner) if (owner === email) fake.liveTokens.delete(t);
    },
    revokeRefreshToken(email) {
      for (const g of refreshTokens.values()) if (g.email === email) g.dead = true;
    },
    currentRefreshToken(email) {
      const t = latestRefresh.get(email);
      return t && !refreshTokens.get(t)?.dead ? t : undefined;
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  };
  return fake;
}
