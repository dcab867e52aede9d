// A provider's proxy agent is cached per value of its `proxy` key. A reload that moved the provider
// to another proxy used to leave the old agent, and its tunnels, open for ever.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { apiKeyProvider, configWith, startService } from '../support/harness.js';
import { postMessage } from '../support/pool.js';

const MESSAGE = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [], usage: { input_tokens: 1, output_tokens: 1 } });

function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe("a reload that changes a provider's proxy", () => {
  let upstream: http.Server;
  let upstreamUrl: string;
  let proxyA: ForwardProxy;
  let proxyB: ForwardProxy;
  beforeAll(async () => {
    // Idle connections are kept far longer than the test waits, so only the service can end them.
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(MESSAGE) }).end(MESSAGE);
    });
    upstream.keepAliveTimeout = 120_000;
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    proxyA = await startForwardProxy();
    proxyB = await startForwardProxy();
  });
  afterAll(async () => {
    await proxyA.close();
    await proxyB.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it("closes the old proxy's tunnels and sends through the new one", async () => {
    const provider = (proxy: string) => ({ ...apiKeyProvider('A', upstreamUrl), proxy });
    const svc = await startService({ config: configWith([provider(proxyA.url)]) });
    try {
      const first = await postMessage(svc.url);
      expect(first.status).toBe(200);
      const host = new URL(upstreamUrl).host;
      expect(proxyA.seen.map((s) => s.target)).toEqual([`CONNECT ${host}`]);
      expect(proxyA.openTunnels()).toBe(1);

      svc.writeConfig(configWith([provider(proxyB.url)]));
      expect((await svc.service.reload()).ok).toBe(true);
      await waitFor(() => proxyA.openTunnels() === 0, 5000, "proxy A's tunnel to close");

      const second = await postMessage(svc.url);
      expect(second.status).toBe(200);
      expect(proxyB.seen.map((s) => s.target)).toEqual([`CONNECT ${host}`]);
      expect(proxyA.seen).toHaveLength(1);
    } finally {
      await svc.close();
    }
  });

  it("closes a provider's proxy tunnels when the reload disables that provider", async () => {
    const proxied = { ...apiKeyProvider('A', upstreamUrl), proxy: proxyA.url };
    const direct = apiKeyProvider('B', upstreamUrl);
    const svc = await startService({ config: configWith([proxied, direct]) });
    try {
      expect((await postMessage(svc.url)).status).toBe(200);
      expect(proxyA.openTunnels()).toBe(1);

      svc.writeConfig(configWith([{ ...proxied, enabled: false }, direct]));
      expect((await svc.service.reload()).ok).toBe(true);
      await waitFor(() => proxyA.openTunnels() === 0, 5000, "the disabled provider's tunnel to close");
    } finally {
      await svc.close();
    }
  });
});
