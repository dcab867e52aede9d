#!/usr/bin/env node
// A MEASURING TOOL, not a proxy: the floors of bench/floor.mjs (node:http server + undici
// upstream) and bench/floor-net.mjs (node:net on both sides) crossed, to see which side carries
// the cost between them.
//   http-net:   node:http parses the client request (llhttp), the body is read into a reused
//               buffer as in floor.mjs, and the upstream side is floor-net's: the request head
//               written by hand to a pooled node:net socket, the response head split in bytes, its
//               body relayed raw through the ServerResponse (the upstream's chunk framing kept, so
//               node:http's own chunking is switched off for it).
//   net-undici: the client side is floor-net's (the head's end and Content-Length found in the raw
//               bytes, header lines split for undici, the body copied into a reused buffer), the
//               upstream side floor.mjs's undici Pool.dispatch; the response is framed by hand.
// Same shortcuts as floor-net.mjs (no validation, no pipelining, no chunked request bodies): only
// good for bench/load.lua against bench/upstream.mjs.
//
//   node bench/floor-hybrid.mjs http-net|net-undici UPSTREAM_URL [ACCESS_LOG_PATH]
//
// Prints "listening on http://127.0.0.1:PORT" on stderr when ready.
import http from 'node:http';
import net from 'node:net';
import { batchedLog } from './lib/batched-log.mjs';
import { CONTENT_LENGTH, DROPPED, giveBuffer, HEAD_END, readBody, responseEnd, stopOn, takeBuffer, undiciPool, upstreamSockets } from './lib/floor-parts.mjs';

const [mode, upstreamUrl, accessLog = '/dev/null'] = process.argv.slice(2);
if (!['http-net', 'net-undici'].includes(mode) || !upstreamUrl) {
  process.stderr.write('usage: node bench/floor-hybrid.mjs http-net|net-undici UPSTREAM_URL [ACCESS_LOG_PATH]\n');
  process.exit(2);
}
const target = new URL(upstreamUrl);
const accessLine = batchedLog(accessLog);
const logLine = (address, method, path, status, bytes) => accessLine.line(`${address} "${method} ${path}" ${status} ${bytes} ${new Date().toISOString()}\n`);
const FORWARDED = (name) => !DROPPED.has(name) && name !== 'accept-encoding';

/** http-net: the request as node:http parsed it, sent and answered on a raw upstream socket. */
function httpNet() {
  const upstreams = upstreamSockets(target);
  const relay = (req, res, body, pooled) => {
    let head = `${req.method} ${req.url} HTTP/1.1\r\nhost: ${target.host}\r\naccept-encoding: identity\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (FORWARDED(raw[i].toLowerCase())) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    let partial = null;
    let ended = null;
    let status = 0;
    let bytes = 0;
    const up = upstreams.take();
    const toClient = (chunk) => {
      bytes += chunk.length;
      if (!res.write(chunk)) {
        up.pause();
        res.once('drain', () => up.resume());
      }
      if (!ended(chunk)) return;
      res.end();
      upstreams.release(up);
      if (pooled) giveBuffer(pooled);
      logLine(req.socket.remoteAddress, req.method, req.url, status, bytes);
    };
    up.exchange = {
      response(chunk) {
        if (ended) return toClient(chunk);
        const buf = partial ? Buffer.concat([partial, chunk]) : chunk;
        const end = buf.indexOf(HEAD_END);
        if (end === -1) return void (partial = buf);
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        status = Number(lines[0].slice(9, 12));
        const headers = {};
        for (let i = 1; i < lines.length; i++) {
          const colon = lines[i].indexOf(':');
          const name = lines[i].slice(0, colon).toLowerCase();
          if (name !== 'connection' && name !== 'keep-alive') headers[name] = lines[i].slice(colon + 1).trim();
        }
        const length = headers['content-length'];
        ended = responseEnd(length === undefined ? -1 : Number(length));
        res.writeHead(status, headers);
        // The upstream's chunks are relayed as they are, terminator included.
        if (length === undefined) res.chunkedEncoding = false;
        if (end + 4 < buf.length) toClient(buf.subarray(end + 4));
      },
      upstreamGone() {
        if (res.headersSent) return void res.destroy();
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway');
      },
    };
    up.cork();
    up.write(`${head}\r\n`, 'latin1');
    if (body) up.write(body);
    up.uncork();
  };
  const server = http.createServer((req, res) => readBody(req, (body, pooled) => relay(req, res, body, pooled)));
  server.keepAliveTimeout = 30_000;
  return { server, close: () => upstreams.destroyAll() };
}

/** net-undici: the request framed from the raw client bytes, sent and answered through undici. */
function netUndici() {
  const origin = target.origin;
  const pool = undiciPool(origin);
  const connection = (client) => {
    let partial = null; // bytes of a request head not yet complete
    let head = null; // the head of the request whose body is being read
    let body = null;
    let need = 0;
    let at = 0;
    let queued = null; // client bytes that came while a response was in flight
    let busy = false; // from the request's end to its response's end
    let controller = null;
    client.on('drain', () => controller?.resume());

    const request = (chunk) => {
      if (busy) return void (queued = queued ? Buffer.concat([queued, chunk]) : chunk);
      if (!head) {
        const buf = partial ? Buffer.concat([partial, chunk]) : chunk;
        const end = buf.indexOf(HEAD_END);
        if (end === -1) return void (partial = buf);
        partial = null;
        head = buf.toString('latin1', 0, end);
        need = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
        body = need ? takeBuffer(need) : null;
        at = 0;
        chunk = buf.subarray(end + 4);
      }
      const n = Math.min(need - at, chunk.length);
      if (n > 0) chunk.copy(body, at, 0, n);
      at += n;
      if (n < chunk.length) queued = chunk.subarray(n);
      if (at === need) send();
    };

    const send = () => {
      const lines = head.split('\r\n');
      const [method, path] = lines[0].split(' ');
      const headers = { 'accept-encoding': 'identity' };
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        const name = lines[i].slice(0, colon).toLowerCase();
        if (FORWARDED(name)) headers[name] = lines[i].slice(colon + 1).trim();
      }
      const pooled = body;
      head = null;
      body = null;
      let status = 0;
      let bytes = 0;
      let chunked = false;
      let pendingHead = '';
      busy = true;
      const finish = (last) => {
        if (pendingHead || last) client.write(pendingHead + last, 'latin1');
        busy = false;
        controller = null;
        if (pooled) giveBuffer(pooled);
        logLine(client.remoteAddress, method, path, status, bytes);
        if (queued) {
          const next = queued;
          queued = null;
          request(next);
        }
      };
      pool.dispatch(
        { origin, path, method, headers, body: pooled ? pooled.subarray(0, need) : null },
        {
          onRequestStart(c) {
            controller = c;
          },
          onResponseStart(_c, statusCode, upstreamHeaders) {
            if (statusCode < 200) return;
            status = statusCode;
            chunked = upstreamHeaders['content-length'] === undefined;
            pendingHead = `HTTP/1.1 ${statusCode} ${http.STATUS_CODES[statusCode]}\r\n`;
            for (const name in upstreamHeaders) if (!DROPPED.has(name)) pendingHead += `${name}: ${upstreamHeaders[name]}\r\n`;
            pendingHead += chunked ? 'transfer-encoding: chunked\r\n\r\n' : '\r\n';
          },
          onResponseData(c, chunk) {
            bytes += chunk.length;
            client.cork();
            if (pendingHead) client.write(pendingHead, 'latin1');
            pendingHead = '';
            if (chunked) client.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
            let ok = client.write(chunk);
            if (chunked) ok = client.write('\r\n', 'latin1');
            client.uncork();
            if (!ok) c.pause();
          },
          onResponseEnd() {
            finish(chunked ? '0\r\n\r\n' : '');
          },
          onResponseError() {
            if (pendingHead || !status) client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
            else client.destroy();
          },
        },
      );
    };

    client.on('data', request);
    client.on('error', () => {});
  };
  return { server: net.createServer({ noDelay: true }, connection), close: () => void pool.close() };
}

const { server, close } = mode === 'http-net' ? httpNet() : netUndici();
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stderr.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
stopOn(() => {
  accessLine.close();
  server.close();
  close();
});
