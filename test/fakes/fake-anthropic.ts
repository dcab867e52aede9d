// A fake of Anthropic's Messages API (api.anthropic.com), per /work/shared/docs/anthropic.md.
import http from 'node:http';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';

export interface RecordedRequest {
  method: string;
  url: string; // path + query
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  aborted: boolean; // the client closed before we finished responding
}

export interface SseEvent {
  event: string;
  data: unknown;
}

export type Step =
  | { kind: 'json'; status?: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'sse'; events?: SseEvent[]; gapMs?: number; headers?: Record<string, string>; hold?: Promise<void> }
  | { kind: 'drop'; afterEvents: number }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number; then: Step };

export type FakeAuth =
  | { mode: 'any' }
  | { mode: 'api_key'; keys: Set<string> }
  | { mode: 'oauth'; liveTokens: Set<string>; beta?: string };

export interface ModelInfo {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

export interface FakeAnthropic {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** What GET /v1/models lists; mutable. */
  models: ModelInfo[];
  auth: FakeAuth;
  script(...steps: Step[]): void;
  /** Consulted (after auth) before the script queue; return undefined to fall through. */
  onRequest(fn: ((req: RecordedRequest) => Step | undefined) | undefined): void;
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves once requests[index] exists and its client has disconnected early. */
  waitForAbort(index: number, timeoutMs?: number): Promise<void>;
  /** Clears requests (in place), the script queue and the onRequest hook. */
  reset(): void;
  close(): Promise<void>;
}

export const OAUTH_BETA = 'oauth-2025-04-20';
export const DEFAULT_MODEL = 'claude-sonnet-4-5';
export const DEFAULT_TEXT = 'Hello from fake';
export const EXPIRED_MESSAGE = 'OAuth token has expired. Please obtain a new token or refresh your existing token.';

const ERROR_TYPES: Record<number, [type: string, message: string]> = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not found'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

const randomId = (prefix: string) => prefix + randomBytes(12).toString('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const lowerKeys = (h: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** Anthropic's error body for a status; unknown 5xx map to api_error, other unknowns to invalid_request_error. */
export function errorBody(status: number, message?: string, requestId?: string) {
  const [type, defaultMessage] = ERROR_TYPES[status] ?? (status >= 500 ? ERROR_TYPES[500] : ERROR_TYPES[400]);
  return {
    type: 'error',
    error: { type, message: message ?? defaultMessage },
    ...(requestId ? { request_id: requestId } : {}),
  };
}

/** Usage numbers a test wants the fake to report (the rest as the fake computes them). */
export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export function messageBody(opts: { model?: string; text?: string; inputTokens?: number; usage?: FakeUsage } = {}) {
  const text = opts.text ?? DEFAULT_TEXT;
  return {
    id: randomId('msg_'),
    type: 'message',
    role: 'assistant',
    model: opts.model ?? DEFAULT_MODEL,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: opts.inputTokens ?? 12, output_tokens: Math.max(1, text.split(/\s+/).length), ...opts.usage },
  };
}

/**
 * The event sequence of a streamed one-text-block reply, as the real API sends it. With
 * `opts.usage`, message_start reports its input and cache numbers with output_tokens 1, and the
 * cumulative message_delta reports them all (output_tokens as given).
 */
export function sseEvents(text: string = DEFAULT_TEXT, opts: { model?: string; inputTokens?: number; usage?: FakeUsage } = {}): SseEvent[] {
  const parts = text.split(/(?=\s)/).filter(Boolean);
  const inputTokens = opts.inputTokens ?? 12;
  const { output_tokens: outputTokens, ...startUsage } = opts.usage ?? {};
  const usage = { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...startUsage };
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: randomId('msg_'), type: 'message', role: 'assistant', model: opts.model ?? DEFAULT_MODEL,
          content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 },
        },
      },
    },
    { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } },
    { event: 'ping', data: { type: 'ping' } },
    ...parts.map((p) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { ...usage, output_tokens: outputTokens ?? Math.max(1, parts.length) },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

export const formatSse = (e: SseEvent) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;

/** Parses an SSE stream; data is JSON-decoded when it parses, else left as the raw string. */
export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) continue;
    const raw = data.join('\n');
    let parsed: unknown = raw;
    try { parsed = JSON.parse(raw); } catch { /* not JSON: keep the string */ }
    out.push({ event, data: parsed });
  }
  return out;
}

export type UnifiedStatus = 'allowed' | 'allowed_warning' | 'rejected';

/**
 * `anthropic-ratelimit-unified-*` headers. The per-window status/reset headers are set for the
 * representative claim's window; utilization headers only when given.
 */
export function unifiedHeaders(o: {
  status: UnifiedStatus; reset: number; claim?: 'five_hour' | 'seven_day' | string; util5h?: number; util7d?: number;
}): Record<string, string> {
  const p = 'anthropic-ratelimit-unified-';
  const claim = o.claim ?? 'five_hour';
  const h: Record<string, string> = {
    [`${p}status`]: o.status,
    [`${p}reset`]: String(o.reset),
    [`${p}representative-claim`]: claim,
  };
  const win = claim === 'five_hour' ? '5h' : claim === 'seven_day' ? '7d' : undefined;
  if (win) {
    h[`${p}${win}-status`] = o.status;
    h[`${p}${win}-reset`] = String(o.reset);
  }
  if (o.util5h !== undefined) h[`${p}5h-utilization`] = String(o.util5h);
  if (o.util7d !== undefined) h[`${p}7d-utilization`] = String(o.util7d);
  return h;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function authFailure(auth: FakeAuth, h: http.IncomingHttpHeaders): string | undefined {
  if (auth.mode === 'any') return undefined;
  const apiKey = first(h['x-api-key']);
  if (auth.mode === 'api_key') return apiKey !== undefined && auth.keys.has(apiKey) ? undefined : 'invalid x-api-key';
  // The real API validates an x-api-key when present, so an OAuth request carrying one fails.
  if (apiKey !== undefined) return 'invalid x-api-key';
  const bearer = /^Bearer (.+)$/i.exec(first(h.authorization) ?? '')?.[1];
  if (bearer === undefined) return 'x-api-key header is required';
  if (!auth.liveTokens.has(bearer)) return bearer.startsWith('sk-ant-oat') ? EXPIRED_MESSAGE : 'Invalid bearer token';
  const betas = (first(h['anthropic-beta']) ?? '').split(',').map((s) => s.trim());
  if (!betas.includes(auth.beta ?? OAUTH_BETA)) return 'OAuth authentication is currently not supported.';
  return undefined;
}

const DEFAULT_MODELS: ModelInfo[] = [
  { type: 'model', id: DEFAULT_MODEL, display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
];

export async function startFakeAnthropic(opts: { auth?: FakeAuth } = {}): Promise<FakeAnthropic> {
  const changes = new EventEmitter().setMaxListeners(0);
  const sockets = new Set<Socket>();
  let queue: Step[] = [];
  let hook: ((req: RecordedRequest) => Step | undefined) | undefined;
  let closing = false;

  const waitFor = (ready: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (ready()) return resolve();
      const check = () => { if (ready()) { done(); resolve(); } };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`fake-anthropic: timed out after ${timeoutMs}ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); changes.off('change', check); };
      changes.on('change', check);
    });

  function defaultStep(method: string, path: string, body: Buffer): Step {
    const inputTokens = Math.max(1, Math.ceil(body.length / 4));
    if (method === 'POST' && (path === '/v1/messages' || path === '/v1/messages/count_tokens')) {
      let json: { model?: unknown; stream?: unknown };
      try { json = JSON.parse(body.toString('utf8')); } catch {
        return { kind: 'json', status: 400, body: errorBody(400, 'There was an issue with the format or content of your request.') };
      }
      if (typeof json?.model !== 'string') return { kind: 'json', status: 400, body: errorBody(400, 'model: Field required') };
      if (path.endsWith('/count_tokens')) return { kind: 'json', body: { input_tokens: inputTokens } };
      const model = json.model;
      return json.stream === true
        ? { kind: 'sse', events: sseEvents(DEFAULT_TEXT, { model, inputTokens }) }
        : { kind: 'json', body: messageBody({ model, inputTokens }) };
    }
    if (method === 'GET' && path === '/v1/models') {
      const m = fake.models;
      return { kind: 'json', body: { data: m, has_more: false, first_id: m[0]?.id ?? null, last_id: m.at(-1)?.id ?? null } };
    }
    const id = method === 'GET' ? /^\/v1\/models\/([^/]+)$/.exec(path)?.[1] : undefined;
    if (id !== undefined) {
      const model = fake.models.find((m) => m.id === decodeURIComponent(id));
      return model ? { kind: 'json', body: model } : { kind: 'json', status: 404, body: errorBody(404, `model: ${id}`) };
    }
    return { kind: 'json', status: 404 };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
    const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, aborted: false };
    const requestId = randomId('req_');
    let gone = false; // socket closed, whoever closed it
    let weClosed = false;
    res.on('close', () => {
      gone = true;
      if (!res.writableFinished && !weClosed && !closing) {
        rec.aborted = true;
        changes.emit('change');
      }
    });
    fake.requests.push(rec);
    changes.emit('change');

    const path = new URL(rec.url, 'http://x').pathname;
    const model = (() => {
      try { return String(JSON.parse(body.toString('utf8')).model ?? DEFAULT_MODEL); } catch { return DEFAULT_MODEL; }
    })();
    const json = (status: number, payload: unknown, headers?: Record<string, string>) => {
      res.writeHead(status, { 'request-id': requestId, 'content-type': 'application/json', ...lowerKeys(headers) });
      res.end(typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload));
    };
    const sseHead = (headers?: Record<string, string>) => {
      res.writeHead(200, {
        'request-id': requestId, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache',
        ...lowerKeys(headers),
      });
      res.flushHeaders();
    };

    if (!path.startsWith('/v1/')) return json(404, errorBody(404, undefined, requestId));
    const authError = authFailure(fake.auth, req.headers);
    if (authError) return json(401, errorBody(401, authError, requestId));

    const run = async (step: Step): Promise<void> => {
      if (gone) return;
      switch (step.kind) {
        case 'json': {
          const status = step.status ?? 200;
          const payload = step.body !== undefined ? step.body
            : status < 300 ? messageBody({ model }) : errorBody(status, undefined, requestId);
          return json(status, payload, step.headers);
        }
        case 'sse': {
          const events = step.events ?? sseEvents(DEFAULT_TEXT, { model });
          const holdAt = step.hold && events.at(-1)?.event === 'message_stop' ? events.length - 1 : events.length;
          sseHead(step.headers);
          for (let i = 0; i < events.length; i++) {
            if (i === holdAt) await step.hold;
            if (i > 0 && step.gapMs) await sleep(step.gapMs);
            if (gone) return;
            res.write(formatSse(events[i]));
          }
          if (holdAt === events.length) await step.hold;
          if (!gone) res.end();
          return;
        }
        case 'drop': {
          sseHead();
          const data = sseEvents(DEFAULT_TEXT, { model }).slice(0, step.afterEvents).map(formatSse).join('');
          // Destroy only once the events reached the socket, so the client sees them before the cut.
          await new Promise<void>((r) => (data ? res.write(data, () => r()) : setTimeout(r, 20)));
          weClosed = true;
          res.socket?.destroy();
          return;
        }
        case 'hang':
          return;
        case 'reset':
          weClosed = true;
          req.socket.destroy();
          return;
        case 'delay':
          await sleep(step.ms);
          return run(step.then);
      }
    };
    await run(hook?.(rec) ?? queue.shift() ?? defaultStep(rec.method, path, body));
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
        else res.destroy();
      });
    });
    req.on('error', () => {});
    res.on('error', () => {});
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const fake: FakeAnthropic = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: [],
    models: DEFAULT_MODELS.map((m) => ({ ...m })),
    auth: opts.auth ?? { mode: 'any' },
    script: (...steps) => { queue.push(...steps); },
    onRequest: (fn) => { hook = fn; },
    waitForRequests: (n, timeoutMs = 2000) => waitFor(() => fake.requests.length >= n, timeoutMs, `${n} request(s)`),
    waitForAbort: (index, timeoutMs = 2000) =>
      waitFor(() => fake.requests[index]?.aborted === true, timeoutMs, `request #${index} to be aborted by its client`),
    reset: () => {
      fake.requests.length = 0;
      queue = [];
      hook = undefined;
    },
    close: () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  };
  return fake;
}
