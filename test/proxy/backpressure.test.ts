import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

/**
 * An upstream that streams as fast as its socket accepts and counts what it managed to write:
 * if the service buffered for a slow client, the upstream would keep writing.
 */
function startFloodingUpstream() {
  const state = { written: 0, finished: false };
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const total = 256 * 1024 * 1024;
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (state.written < total) {
        state.written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      state.finished = true;
      res.end();
    };
    pump();
  });
  return new Promise<{ url: string; state: typeof state; close: () => Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        state,
        close: () => {
          server.closeAllConnections();
          return new Promise((r) => server.close(() => r()));
        },
      }),
    ),
  );
}

describe('backpressure', () => {
  let upstream: Awaited<ReturnType<typeof startFloodingUpstream>>;
  let svc: RunningService;
  beforeAll(async () => {
    upstream = await startFloodingUpstream();
    svc = await startService({ config: configWith([apiKeyProvider('flood', upstream.url)]) });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });

  it('a client that stops reading makes the upstream stop too, instead of the service buffering the stream', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get(`${svc.url}/v1/files/big`, resolve);
      req.on('error', reject);
    });
    res.pause();
    // Let the pipes fill up: the upstream's writes must stall at a few socket buffers' worth.
    let last = -1;
    while (upstream.state.written !== last) {
      last = upstream.state.written;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(upstream.state.finished).toBe(false);
    expect(upstream.state.written).toBeLessThan(32 * 1024 * 1024);

    // Reading again drains everything, byte for byte.
    let received = 0;
    res.on('data', (d: Buffer) => (received += d.length));
    res.resume();
    await new Promise((r) => res.on('end', r));
    expect(received).toBe(256 * 1024 * 1024);
  }, 60_000);
});
