// The conformance harness: a raw-socket HTTP client (sends any bytes, reads the raw answer) and a
// recording upstream (keeps everything that reached it), with the real service between them.
// Other suites build on this file: keep its exported API stable.
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

// ---- the raw-socket client ----------------------------------------------------------------------

/** One HTTP response as read off the wire. */
export interface RawResponse {
  status: number;
  reason: string;
  /** Header names lower-cased; a repeated header keeps every value in order. */
  headers: Record<string, string[]>;
  /** The body after de-chunking (transfer framing only; content-encoding is left as sent). */
  body: Buffer;
  /** The response's bytes exactly as they came, status line to last body byte. */
  raw: Buffer;
}

export interface ReadOptions {
  /** Give up after this long without a complete response (default 5000 ms). */
  timeoutMs?: number;
}

/** What came back when a read ended without a complete response. */
export class RawReadError extends Error {
  constructor(
    message: string,
    /** Bytes received and not yet consumed as a response. */
    readonly pending: Buffer,
    readonly closed: boolean,
  ) {
    super(message);
  }
}

/** Reads one header value (the first, when repeated). */
export function header(res: RawResponse, name: string): string | undefined {
  return res.headers[name.toLowerCase()]?.[0];
}

/** The body as JSON (throws when it is not). */
export function jsonBody(res: RawResponse): any {
  return JSON.parse(res.body.toString('utf8'));
}

/**
 * A TCP connection to a server on which any bytes can be written and responses read back in
 * order (pipelining works). `closed` tells whether the server has ended the connection.
 */
export class RawClient {
  readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private ended = false;
  private waiters: Array<() => void> = [];
  /** Resolves when the server has closed (or reset) the connection. */
  readonly closedPromise: Promise<void>;
  /** The socket error, if the connection ended with one (ECONNRESET and the like). */
  error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.wake();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects to a URL's host and port (http://127.0.0.1:PORT). */
  static connect(url: string): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** True once the server has closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  /** Bytes received and not yet read as a response. */
  get pending(): Buffer {
    return this.buffer;
  }

  /** Writes bytes as given (a string is sent as latin1, so every byte value can be written). */
  write(bytes: string | Buffer): Promise<void> {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('socket already closed'));
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Stops reading from the socket (a client that reads nothing); `resume()` starts again. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Reads the next complete response. `head: true` for a response to HEAD (no body). Rejects
   * with RawReadError when the connection closes or the timeout passes first.
   */
  async read(options: ReadOptions & { head?: boolean } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      const parsed = parseResponse(this.buffer, this.ended, options.head ?? false);
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.length);
        return parsed.response;
      }
      if (this.ended) throw new RawReadError('connection closed before a complete response', this.buffer, true);
      const left = deadline - Date.now();
      if (left <= 0) throw new RawReadError('timed out waiting for a response', this.buffer, false);
      await this.waitForData(left);
    }
  }

  /** Waits for the server to close the connection; true if it did within the time. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.ended) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closedPromise.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Closes our side. */
  destroy(): void {
    this.socket.destroy();
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.waiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  private wake(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }
}

/** Sends bytes on a new connection and reads one response; the connection is closed afterwards. */
export async function rawRequest(
  url: string,
  bytes: string | Buffer,
  options: ReadOptions = {},
): Promise<{ response: RawResponse | undefined; closed: boolean; pending: Buffer; client: RawClient }> {
  const client = await RawClient.connect(url);
  await client.write(bytes).catch(() => {});
  try {
    const response = await client.read(options);
    // Give the server a moment to close after its answer when it means to.
    await client.waitClosed(50);
    const closed = client.closed;
    client.destroy();
    return { response, closed, pending: client.pending, client };
  } catch (err) {
    client.destroy();
    if (err instanceof RawReadError) return { response: undefined, closed: err.closed, pending: err.pending, client };
    throw err;
  }
}

/** A request in wire form: `httpRequest('POST', '/v1/messages', {host: 'x'}, body)`; Host is added when absent. */
export function httpRequest(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`];
  const names = Object.keys(headers).map((n) => n.toLowerCase());
  if (!names.includes('host')) lines.push('Host: 127.0.0.1');
  const bodyBytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  if (bodyBytes && !names.includes('content-length') && !names.includes('transfer-encoding')) {
    lines.push(`Content-Length: ${bodyBytes.length}`);
  }
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return bodyBytes ? Buffer.concat([head, bodyBytes]) : head;
}

/** A small valid Messages API body. */
export function messagesBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], ...extra });
}

interface Parsed {
  response: RawResponse;
  length: number;
}

/** Parses one response off the front of `buf`, or returns undefined when it is not all there yet. */
export function parseResponse(buf: Buffer, closed: boolean, isHead = false): Parsed | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const headText = buf.subarray(0, headEnd).toString('latin1');
  const [statusLine, ...lines] = headText.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const status = Number(m[1]);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  const bodyStart = headEnd + 4;
  const base = { status, reason: m[2] ?? '', headers };
  const done = (body: Buffer, end: number): Parsed => ({
    response: { ...base, body, raw: buf.subarray(0, end) },
    length: end,
  });
  if (isHead || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return done(Buffer.alloc(0), bodyStart);
  }
  const te = headers['transfer-encoding']?.join(',').toLowerCase();
  if (te?.includes('chunked')) {
    const parts: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1').split(';')[0], 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      at = lineEnd + 2;
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n', at);
        if (trailerEnd < 0) return undefined;
        // Trailers (rare): skip lines until the empty one.
        let end = at;
        while (buf.indexOf('\r\n', end) !== end) {
          const next = buf.indexOf('\r\n', end);
          if (next < 0) return undefined;
          end = next + 2;
        }
        return done(Buffer.concat(parts), end + 2);
      }
      if (buf.length < at + size + 2) return undefined;
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
  }
  const cl = headers['content-length']?.[0];
  if (cl !== undefined) {
    const end = bodyStart + Number(cl);
    if (buf.length < end) return undefined;
    return done(buf.subarray(bodyStart, end), end);
  }
  // Close-delimited.
  if (!closed) return undefined;
  return done(buf.subarray(bodyStart), buf.length);
}

// ---- the recording upstream ---------------------------------------------------------------------

/** One request as it reached the upstream. */
export interface UpstreamRecord {
  method: string;
  /** The request target exactly as sent on the request line. */
  target: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The service closed the connection before the upstream finished its reply. */
  aborted: boolean;
}

/** How the upstream answers one request. */
export type Reply =
  | { kind: 'json'; status?: number; body?: unknown; headers?: Record<string, string> }
  /** Body bytes exactly as given, with the given headers (content-length added). */
  | { kind: 'bytes'; status?: number; body: Buffer; headers?: Record<string, string> }
  /** A gzip-encoded JSON body (content-encoding: gzip). */
  | { kind: 'gzip'; status?: number; body: unknown; headers?: Record<string, string> }
  /** `size` bytes of `fill` streamed in chunks, with content-length; `bytes` returns the whole body for comparing. */
  | { kind: 'huge'; status?: number; size: number; headers?: Record<string, string> }
  /** Headers (and `body`, if given) are sent, then nothing more until the connection ends. */
  | { kind: 'stall'; status?: number; headers?: Record<string, string>; body?: string }
  /** No answer at all. */
  | { kind: 'hang' }
  /** The connection is destroyed without an answer. */
  | { kind: 'reset' };

export interface RecordingUpstream {
  url: string;
  port: number;
  records: UpstreamRecord[];
  /** How to answer; called per request, default a 200 Messages API JSON reply. */
  reply: (record: UpstreamRecord) => Reply | Promise<Reply>;
  /** Waits until `n` requests have reached the upstream (their bodies complete). */
  waitForRecords(n: number, timeoutMs?: number): Promise<void>;
  /** Waits until records[index] exists and the service dropped it early. */
  waitForAbort(index: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const OK_MESSAGE = {
  id: 'msg_conformance',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: 'ok' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 1, output_tokens: 1 },
};

/** The deterministic byte pattern of a `huge` reply: byte i is `HUGE_ALPHABET[i % 64]`. */
export const HUGE_ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789{}');

export function hugeBytes(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = HUGE_ALPHABET[i & 63];
  return out;
}

function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** A node:http upstream that records every request and answers as `reply` says. */
export async function startRecordingUpstream(
  reply?: (record: UpstreamRecord) => Reply | Promise<Reply>,
): Promise<RecordingUpstream> {
  const records: UpstreamRecord[] = [];
  const sockets = new Set<net.Socket>();
  const upstream: RecordingUpstream = {
    url: '',
    port: 0,
    records,
    reply: reply ?? (() => ({ kind: 'json' })),
    waitForRecords: (n, timeoutMs = 5000) => until(() => records.length >= n, timeoutMs, `${n} upstream requests`),
    waitForAbort: (index, timeoutMs = 5000) =>
      until(() => records[index]?.aborted === true, timeoutMs, `upstream request ${index} to be aborted`),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const record: UpstreamRecord = {
        method: req.method ?? '',
        target: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        aborted: false,
      };
      records.push(record);
      res.once('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      const answer = await upstream.reply(record);
      send(res, answer);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  upstream.port = port;
  upstream.url = `http://127.0.0.1:${port}`;
  return upstream;
}

function send(res: http.ServerResponse, reply: Reply): void {
  switch (reply.kind) {
    case 'json': {
      const body = JSON.stringify(reply.body ?? OK_MESSAGE);
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...reply.headers });
      res.end(body);
      return;
    }
    case 'bytes':
      res.writeHead(reply.status ?? 200, { 'content-length': reply.body.length, ...reply.headers });
      res.end(reply.body);
      return;
    case 'gzip': {
      const body = gzipSync(Buffer.from(JSON.stringify(reply.body)));
      res.writeHead(reply.status ?? 200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': body.length,
        ...reply.headers,
      });
      res.end(body);
      return;
    }
    case 'huge': {
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'content-length': reply.size, ...reply.headers });
      const chunk = hugeBytes(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < reply.size) {
          const n = Math.min(chunk.length, reply.size - sent);
          sent += n;
          // 64 KiB is a multiple of the 64-byte pattern, so each chunk continues it exactly.
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    case 'stall':
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
      if (reply.body) res.write(reply.body);
      else res.flushHeaders();
      return;
    case 'hang':
      return;
    case 'reset':
      res.socket?.destroy();
      return;
  }
}

// ---- the service between them -------------------------------------------------------------------

export const UPSTREAM_KEY = 'sk-ant-api03-conformance-key-0123456789abcdef';

export interface ConformanceSetup {
  service: RunningService;
  upstream: RecordingUpstream;
  /** The service's URL (http://127.0.0.1:PORT). */
  url: string;
  /** The service's port, as a string (for Host: localhost:PORT). */
  port: string;
  /** Sends bytes on a new connection and reads one response. */
  send(bytes: string | Buffer, options?: ReadOptions): ReturnType<typeof rawRequest>;
  /** A new raw connection to the service. */
  connect(): Promise<RawClient>;
  close(): Promise<void>;
}

export interface ConformanceOptions {
  /** Settings merged into providers.yaml's settings. */
  settings?: Record<string, unknown>;
  /** The provider's base_url path (e.g. '/base'), appended to the upstream's origin. */
  basePath?: string;
  /** Providers to use instead of the one API-key provider on the recording upstream. */
  providers?: (upstream: RecordingUpstream) => object[];
  reply?: (record: UpstreamRecord) => Reply | Promise<Reply>;
}

/** Starts a recording upstream and the real service in front of it (one API-key provider). */
export async function startConformance(options: ConformanceOptions = {}): Promise<ConformanceSetup> {
  const upstream = await startRecordingUpstream(options.reply);
  const providers = options.providers?.(upstream) ?? [
    apiKeyProvider('upstream', upstream.url + (options.basePath ?? ''), UPSTREAM_KEY),
  ];
  const service = await startService({ config: configWith(providers, options.settings) });
  return {
    service,
    upstream,
    url: service.url,
    port: new URL(service.url).port,
    send: (bytes, readOptions) => rawRequest(service.url, bytes, readOptions),
    connect: () => RawClient.connect(service.url),
    close: async () => {
      await service.close();
      await upstream.close();
    },
  };
}

// ---- framing -------------------------------------------------------------------------------------

/** A request that smuggles a second one behind it if the service reads the framing the wrong way. */
export const SMUGGLED = 'GET /v1/models?smuggled=1 HTTP/1.1\r\nHost: localhost\r\n\r\n';

/**
 * Sends bytes whose framing is ambiguous or invalid and checks the answer: `status` with an
 * Anthropic-shaped invalid_request_error, the connection closed, and nothing at the upstream.
 */
export async function expectRefusedFraming(setup: ConformanceSetup, bytes: string, status = 400): Promise<void> {
  const { response, closed } = await setup.send(bytes);
  if (!response) throw new Error('no response');
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${response.body.toString()}`);
  const body = jsonBody(response);
  if (body?.type !== 'error' || body.error?.type !== 'invalid_request_error') throw new Error(`not an Anthropic error: ${response.body.toString()}`);
  if (!closed) throw new Error('the connection was left open');
  // Give a smuggled request time to reach the upstream if it was going to.
  await new Promise((r) => setTimeout(r, 50));
  if (setup.upstream.records.length) throw new Error(`reached the upstream: ${setup.upstream.records.map((r) => r.target).join(', ')}`);
}

/** The request head of a /v1/messages POST to the service, up to (not including) the framing headers. */
export function messagesHead(setup: ConformanceSetup, eol = '\r\n'): string {
  return [`POST /v1/messages HTTP/1.1`, `Host: localhost:${setup.port}`, 'Content-Type: application/json', ''].join(eol);
}

/** The service and recording upstream of one test file: started before its tests, closed after. */
export function conformanceFixture(options: ConformanceOptions = {}): () => ConformanceSetup {
  let setup: ConformanceSetup | undefined;
  beforeAll(async () => {
    setup = await startConformance(options);
  });
  afterAll(() => setup?.close());
  return () => setup!;
}
