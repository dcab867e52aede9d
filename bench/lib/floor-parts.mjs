// The pieces the bench's floor relays share (bench/floor.mjs, bench/floor-net.mjs,
// bench/floor-hybrid.mjs), so that a difference between two floors is the side they differ in and
// nothing else. Measuring tools only: none of this is fit for a real proxy.
import net from 'node:net';
import { Pool } from 'undici';

/** What nginx does not forward either (hop-by-hop), and what undici sets itself. */
export const DROPPED = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer']);
export const HEAD_END = Buffer.from('\r\n\r\n');
export const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

/**
 * Body buffers of power-of-two sizes, given back when the response is over (a fresh 140 KB
 * ArrayBuffer per request makes V8 collect often; the service reuses buffers the same way).
 */
const freeBuffers = new Map();
const sizeOf = (n) => 2 ** Math.ceil(Math.log2(Math.max(n, 1024)));
export const takeBuffer = (n) => freeBuffers.get(sizeOf(n))?.pop() ?? Buffer.allocUnsafeSlow(sizeOf(n));
export function giveBuffer(b) {
  let list = freeBuffers.get(b.length);
  if (!list) freeBuffers.set(b.length, (list = []));
  if (list.length < 64) list.push(b);
}

/** node:http's side: the body of `req` read into a reused buffer of its Content-Length, then `then(body, pooled)`. */
export function readBody(req, then) {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!length) {
    req.resume();
    req.on('end', () => then(null, null));
    return;
  }
  const body = takeBuffer(length);
  let at = 0;
  req.on('data', (chunk) => {
    chunk.copy(body, at);
    at += chunk.length;
  });
  req.on('end', () => then(body.subarray(0, at), body));
}

/** undici's side: the keep-alive pool every undici floor sends through. */
export const undiciPool = (origin) => new Pool(origin, { connections: null, pipelining: 1, keepAliveTimeout: 30_000 });

/**
 * Whether a response is over, from its raw bytes: `left` bytes to come (a Content-Length), or -1
 * for chunked, whose end is "\r\n0\r\n\r\n" at the end of what has been read (good enough for the
 * bench upstream, not for any other).
 */
export function responseEnd(left) {
  let tail = Buffer.alloc(0);
  return (chunk) => {
    if (left >= 0) return (left -= chunk.length) <= 0;
    tail = chunk.length >= CHUNKED_END.length ? chunk.subarray(-CHUNKED_END.length) : Buffer.concat([tail, chunk]).subarray(-CHUNKED_END.length);
    return tail.equals(CHUNKED_END);
  };
}

/**
 * The raw upstream side: idle keep-alive node:net sockets to `target`; `socket.exchange` is the
 * exchange it serves now, told of each chunk (`response`) and of the socket's end (`upstreamGone`).
 */
export function upstreamSockets(target) {
  const idle = new Set();
  return {
    take() {
      for (const socket of idle) {
        idle.delete(socket);
        return socket;
      }
      const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
      socket.on('data', (chunk) => socket.exchange?.response(chunk));
      socket.on('error', () => {});
      socket.on('close', () => {
        idle.delete(socket);
        socket.exchange?.upstreamGone();
      });
      return socket;
    },
    release(socket) {
      socket.exchange = null;
      idle.add(socket);
    },
    destroyAll() {
      for (const socket of idle) socket.destroy();
    },
  };
}

/** On SIGTERM or SIGINT: `stop()` (flush the log, close what is open), then exit. */
export function stopOn(stop) {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      stop();
      setTimeout(() => process.exit(0), 200).unref();
    });
  }
}
