#!/usr/bin/env node
// The floor of the benchmark: the least a Node reverse proxy does per request, to set the
// service's cost beside. node:http reads the body into a reused buffer of its Content-Length,
// undici's dispatch API (a keep-alive Pool) sends it upstream, the response is relayed as it
// arrives, and one access-log line per request goes to a file, as nginx's does. No routing,
// credentials, failover, timeouts, usage counting or secret redaction: what is left is Node's and
// undici's own cost.
//
//   node bench/floor.mjs UPSTREAM_URL ACCESS_LOG_PATH
//
// Prints "listening on http://127.0.0.1:PORT" on stderr when ready.
import http from 'node:http';
import { batchedLog } from './lib/batched-log.mjs';
import { DROPPED, giveBuffer, readBody, stopOn, undiciPool } from './lib/floor-parts.mjs';

const [upstreamUrl, accessLog = '/dev/null'] = process.argv.slice(2);
if (!upstreamUrl) {
  process.stderr.write('usage: node bench/floor.mjs UPSTREAM_URL [ACCESS_LOG_PATH]\n');
  process.exit(2);
}
const origin = new URL(upstreamUrl).origin;
const pool = undiciPool(origin);

const accessLine = batchedLog(accessLog);

function relay(req, res, body, pooled) {
  const headers = {};
  for (const name in req.headers) if (!DROPPED.has(name)) headers[name] = req.headers[name];
  headers['accept-encoding'] = 'identity';
  let status = 0;
  let bytes = 0;
  let controller = null;
  const done = () => {
    if (pooled) giveBuffer(pooled);
    pooled = null;
    accessLine.line(`${req.socket.remoteAddress} "${req.method} ${req.url}" ${status} ${bytes} ${new Date().toISOString()}\n`);
  };
  res.on('drain', () => controller?.resume());
  pool.dispatch(
    { origin, path: req.url, method: req.method, headers, body },
    {
      onRequestStart(c) {
        controller = c;
      },
      onResponseStart(_c, statusCode, upstreamHeaders) {
        if (statusCode < 200) return;
        status = statusCode;
        const out = {};
        for (const name in upstreamHeaders) if (!DROPPED.has(name)) out[name] = upstreamHeaders[name];
        res.writeHead(statusCode, out);
      },
      onResponseData(c, chunk) {
        bytes += chunk.length;
        if (!res.write(chunk)) c.pause();
      },
      onResponseEnd() {
        res.end();
        done();
      },
      onResponseError(_c, err) {
        if (!res.headersSent) {
          status = 502;
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(String(err.message));
        } else res.destroy(err);
        done();
      },
    },
  );
}

const server = http.createServer((req, res) => readBody(req, (body, pooled) => relay(req, res, body, pooled)));
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
stopOn(() => {
  accessLine.close();
  server.close();
  void pool.close();
});
