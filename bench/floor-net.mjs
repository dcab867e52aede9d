#!/usr/bin/env node
// A MEASURING TOOL, not a proxy: the least CPU a Node relay can spend on a request, on node:net
// alone (no node:http, no undici, no llhttp). It finds the end of the request head and its
// Content-Length in the raw bytes, sends head and body as they arrive to a pooled keep-alive
// upstream socket, and relays the response back, finding its end by Content-Length or by the
// chunked terminator. One access-log line per request, in batches like bench/floor.mjs.
//
// Only good for bench/load.lua against bench/upstream.mjs: no validation of the request line or of
// header syntax, no chunked request bodies, no Expect, no hop-by-hop rewriting (wrk sends none and
// the fake upstream ignores Host), the end of a chunked response is "\r\n0\r\n\r\n" at the end of
// what has been read. Owning the framing this way is exactly what a real proxy must not do.
//
//   node bench/floor-net.mjs UPSTREAM_URL [ACCESS_LOG_PATH]
//
// Prints "listening on http://127.0.0.1:PORT" on stderr when ready.
import net from 'node:net';
import { batchedLog } from './lib/batched-log.mjs';
import { CONTENT_LENGTH, HEAD_END, responseEnd, stopOn, upstreamSockets } from './lib/floor-parts.mjs';

const [upstreamUrl, accessLog = '/dev/null'] = process.argv.slice(2);
if (!upstreamUrl) {
  process.stderr.write('usage: node bench/floor-net.mjs UPSTREAM_URL [ACCESS_LOG_PATH]\n');
  process.exit(2);
}
const target = new URL(upstreamUrl);

const accessLine = batchedLog(accessLog);

const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nconnection: close\r\n\r\nbad gateway';
const upstreams = upstreamSockets(target);

function connection(client) {
  let partial = null; // bytes of a request head not yet complete
  let bodyLeft = 0; // request body bytes still to forward
  let queued = null; // client bytes that came while a response was in flight (wrk does not pipeline)
  let up = null; // the upstream socket of the request in flight
  let requestLine = '';
  let resPartial = null;
  let resStarted = false;
  let ended = null; // whether a chunk ends the response (bench/lib/floor-parts.mjs)
  let status = 0;
  let bytes = 0;

  const toUpstream = (chunk) => {
    if (!up.write(chunk)) {
      client.pause();
      up.once('drain', () => client.resume());
    }
  };

  const request = (chunk) => {
    if (up && bodyLeft === 0) {
      queued = queued ? Buffer.concat([queued, chunk]) : chunk;
      return;
    }
    if (bodyLeft > 0) {
      const n = Math.min(bodyLeft, chunk.length);
      bodyLeft -= n;
      toUpstream(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n < chunk.length) queued = chunk.subarray(n);
      return;
    }
    const buf = partial ? Buffer.concat([partial, chunk]) : chunk;
    const end = buf.indexOf(HEAD_END);
    if (end === -1) {
      partial = buf;
      return;
    }
    partial = null;
    const head = buf.toString('latin1', 0, end);
    requestLine = head.slice(0, head.indexOf('\r\n'));
    bodyLeft = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
    const bodyStart = end + 4;
    const here = Math.min(bodyLeft, buf.length - bodyStart);
    bodyLeft -= here;
    resStarted = false;
    resPartial = null;
    status = 0;
    bytes = 0;
    up = upstreams.take();
    up.exchange = handlers;
    toUpstream(bodyStart + here === buf.length ? buf : buf.subarray(0, bodyStart + here));
    if (bodyStart + here < buf.length) queued = buf.subarray(bodyStart + here);
  };

  const finish = () => {
    accessLine.line(`${client.remoteAddress} "${requestLine.slice(0, requestLine.lastIndexOf(' '))}" ${status} ${bytes} ${new Date().toISOString()}\n`);
    upstreams.release(up);
    up = null;
    if (queued) {
      const next = queued;
      queued = null;
      request(next);
    }
  };

  const handlers = {
    response(chunk) {
      if (!resStarted) {
        const buf = resPartial ? Buffer.concat([resPartial, chunk]) : chunk;
        const end = buf.indexOf(HEAD_END);
        if (end === -1) {
          resPartial = buf;
          return;
        }
        resPartial = null;
        resStarted = true;
        const head = buf.toString('latin1', 0, end);
        status = Number(head.slice(9, 12));
        const length = CONTENT_LENGTH.exec(head);
        ended = responseEnd(length ? end + 4 + Number(length[1]) : -1);
        chunk = buf;
      }
      bytes += chunk.length;
      if (!client.write(chunk)) {
        up.pause();
        const paused = up;
        client.once('drain', () => paused.resume());
      }
      if (ended(chunk)) finish();
    },
    upstreamGone() {
      up = null;
      if (!resStarted) client.end(BAD_GATEWAY);
      else client.destroy();
    },
  };

  client.on('data', request);
  client.on('error', () => {});
  client.on('close', () => {
    if (up) {
      up.exchange = null;
      up.destroy();
    }
  });
}

const server = net.createServer({ noDelay: true }, connection);
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stderr.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
stopOn(() => {
  accessLine.close();
  server.close();
  upstreams.destroyAll();
});
