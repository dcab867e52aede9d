import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { anthropicErrorBody } from '../anthropic/errors.js';
import type { Logger } from '../logging/logger.js';
import type { Settings } from '../config/schema.js';

/** File descriptors kept for everything but client sockets: the store, logs, DNS, the listener. */
const RESERVED_FDS = 64;

/** The process's open-file (soft) limit, when the system tells it (Linux: /proc/self/limits). */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The client connections the fd limit leaves room for: each may need an upstream socket too,
 * so half of what is left after the reserve. Past the limit a process cannot accept at all and
 * fails every client, not just the newest.
 */
export function connectionCap(configured: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return configured;
  return Math.max(1, Math.min(configured, Math.floor((fdLimit - RESERVED_FDS) / 2)));
}

/** Fastify options for timeouts.request_ms: headers and body must have arrived by then. */
export function requestTimeoutOptions(settings: Settings): { requestTimeout: number; http: ServerOptions } {
  const ms = settings.timeouts.request_ms;
  // Node checks the deadline on an interval (30 s by default); a fraction of it keeps the answer near the deadline.
  return { requestTimeout: ms, http: { connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(ms / 4))) } };
}

/** Applies timeouts.request_ms and max_connections (clamped below the fd limit, with a warning) to the server. */
export function applyConnectionLimits(server: Server, settings: Settings, log: Logger, fdLimit = openFileLimit()): void {
  // Node would otherwise wait for headers for 60 s whatever requestTimeout says.
  server.headersTimeout = settings.timeouts.request_ms;
  const cap = connectionCap(settings.max_connections, fdLimit);
  if (cap < settings.max_connections) {
    log.warn(
      { max_connections: settings.max_connections, open_file_limit: fdLimit, using: cap },
      `settings.max_connections ${settings.max_connections} is more than the open-file limit (${fdLimit}) allows; using ${cap}. Raise the limit (ulimit -n) to serve more clients at once.`,
    );
  }
  // Past it, Node closes new connections at once; those already open are served.
  server.maxConnections = cap;
}

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request (headers and body) did not arrive within timeouts.request_ms.'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'The request headers are too large.'],
};

/**
 * What a client hears when its request cannot be parsed or did not arrive in time: the status,
 * an Anthropic-shaped body, and the connection closed (its framing can no longer be trusted).
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'The request is not valid HTTP/1.1.'];
  const body = anthropicErrorBody('invalid_request_error', message);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
