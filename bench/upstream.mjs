// The benchmark's fake upstream: a minimal node:http stand-in for api.anthropic.com, plus a tiny
// fake OAuth server (authorize + token) whose issued access tokens the upstream accepts in oauth
// mode. Run as its own process (pinned by bench/run.mjs); prints one JSON line with its ports.
//
//   POST /v1/messages   200 with a fixed ~600 B message JSON, or, when the body says
//                       "stream":true, an SSE stream of 20 text deltas. Written at once, or with
//                       x-bench-delta-delay-ms: N, one delta every N ms.
//   GET  /bench/tokens  the access tokens issued so far (for the direct runs of the oauth scenario)
//
// Auth: x-api-key must equal BENCH_API_KEY, or authorization: Bearer <issued token> with the
// oauth beta. Anything else is a 401, so a misconfigured run fails loudly instead of measuring errors.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

export const BENCH_API_KEY = 'bench-fake-api-key-not-a-secret-0123456789abcdefghijklmnopqrs';
export const DELTAS = 20;
const OAUTH_BETA = 'oauth-2025-04-20';

const text = 'The quick brown fox jumps over the lazy dog. '.repeat(6).trim();
const MESSAGE = Buffer.from(
  JSON.stringify({
    id: 'msg_01BenchFixedMessageId0000000',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: 512,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 64,
      service_tier: 'standard',
    },
  }),
);

const event = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const SSE_HEAD =
  event('message_start', {
    message: {
      id: 'msg_01BenchFixedMessageId0000000',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 512, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  }) +
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
  event('ping', {});
const SSE_DELTAS = Array.from({ length: DELTAS }, (_, i) =>
  Buffer.from(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `tok${i} ` } })),
);
const SSE_TAIL =
  event('content_block_stop', { index: 0 }) +
  event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: DELTAS } }) +
  event('message_stop', {});
const SSE_ALL = Buffer.concat([Buffer.from(SSE_HEAD), ...SSE_DELTAS, Buffer.from(SSE_TAIL)]);
const SSE_HEAD_BUF = Buffer.from(SSE_HEAD);
const SSE_TAIL_BUF = Buffer.from(SSE_TAIL);

const STREAM_FLAG = Buffer.from('"stream":true');
const liveTokens = new Set();
let requestCounter = 0;

/** The unified rate-limit headers an OAuth (subscription) upstream sends; the service records them per account. */
function unifiedHeaders() {
  const reset = String(Math.floor(Date.now() / 1000) + 3600);
  return {
    'anthropic-ratelimit-unified-status': 'allowed',
    'anthropic-ratelimit-unified-5h-utilization': '0.12',
    'anthropic-ratelimit-unified-7d-utilization': '0.05',
    'anthropic-ratelimit-unified-reset': reset,
    'anthropic-ratelimit-unified-representative-claim': 'five_hour',
  };
}

function authorized(req) {
  if (req.headers['x-api-key'] === BENCH_API_KEY) return 'api_key';
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ') && liveTokens.has(auth.slice(7))) {
    const beta = req.headers['anthropic-beta'];
    if (typeof beta === 'string' && beta.includes(OAUTH_BETA)) return 'oauth';
  }
  return null;
}

function reject(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message } }));
}

function messages(req, res, body) {
  const kind = authorized(req);
  if (!kind) return reject(res, 401, 'bench upstream: missing or wrong credential');
  const id = `req_bench${++requestCounter}`;
  const extra = kind === 'oauth' ? unifiedHeaders() : undefined;
  if (body.indexOf(STREAM_FLAG) === -1) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': id, 'content-length': MESSAGE.length, ...extra });
    res.end(MESSAGE);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': id, ...extra });
  const delay = Number(req.headers['x-bench-delta-delay-ms'] ?? 0);
  if (!(delay > 0)) {
    res.end(SSE_ALL);
    return;
  }
  res.write(SSE_HEAD_BUF);
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    if (i < DELTAS) res.write(SSE_DELTAS[i++]);
    if (i === DELTAS) {
      clearInterval(timer);
      res.end(SSE_TAIL_BUF);
    }
  }, delay);
  res.on('close', () => clearInterval(timer));
}

// ---- fake OAuth: just enough of authorize + token for the service's real login flow -----------

const codes = new Map(); // code -> { email, challenge, state }
const b64url = (buf) => buf.toString('base64url');

function oauth(req, res, body) {
  const url = new URL(req.url, 'http://x');
  const json = (status, payload) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  };
  if (req.method === 'GET' && url.pathname === '/oauth/authorize') {
    const q = url.searchParams;
    const email = req.headers['x-fake-user'];
    if (!email || q.get('code_challenge_method') !== 'S256' || !q.get('state') || !q.get('redirect_uri')) {
      return json(400, { error: 'invalid_request', error_description: 'bench fake: bad authorize request' });
    }
    const code = b64url(randomBytes(24));
    codes.set(code, { email, challenge: q.get('code_challenge'), state: q.get('state') });
    const to = new URL(q.get('redirect_uri'));
    to.searchParams.set('code', code);
    to.searchParams.set('state', q.get('state'));
    res.writeHead(302, { location: to.toString() });
    res.end();
    return;
  }
  if (req.method === 'POST' && url.pathname === '/v1/oauth/token') {
    let p;
    try {
      p = JSON.parse(body.toString('utf8'));
    } catch {
      return json(400, { error: 'invalid_request', error_description: 'not JSON' });
    }
    let email;
    if (p.grant_type === 'authorization_code') {
      const grant = codes.get(p.code);
      codes.delete(p.code);
      const challenge = typeof p.code_verifier === 'string' ? b64url(createHash('sha256').update(p.code_verifier).digest()) : '';
      if (!grant || grant.state !== p.state || grant.challenge !== challenge) {
        return json(400, { error: 'invalid_grant', error_description: "Invalid 'code' in request." });
      }
      email = grant.email;
    } else if (p.grant_type === 'refresh_token' && typeof p.refresh_token === 'string') {
      email = p.refresh_token.split('.')[1] ?? 'unknown@bench.local';
    } else {
      return json(400, { error: 'unsupported_grant_type', error_description: String(p.grant_type) });
    }
    const access = `sk-ant-oat01-${b64url(randomBytes(36))}`;
    liveTokens.add(access);
    return json(200, {
      token_type: 'Bearer',
      access_token: access,
      refresh_token: `sk-ant-ort01-${b64url(randomBytes(24))}.${email}`,
      expires_in: 8 * 3600,
      scope: 'user:profile user:inference user:sessions:claude_code',
      account: { uuid: `acct-${email}`, email_address: email },
      organization: { uuid: `org-${email}`, name: `${email}'s Organization` },
    });
  }
  if (req.method === 'GET' && url.pathname === '/bench/tokens') return json(200, [...liveTokens]);
  return json(404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('error', () => {});
  res.on('error', () => {});
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (req.method === 'POST' && req.url.startsWith('/v1/messages')) return messages(req, res, body);
    return oauth(req, res, body);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

// Node's default backlog (511) overflows when 1,000 clients connect at once: the dropped SYNs
// would add a second to the direct path's time to first byte.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
// Never outlive the runner: it holds our stdin open.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
