import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

describe('client disconnect', () => {
  let upstream: FakeAnthropic;
  let svc: RunningService;

  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    svc = await startService({ config: configWith([apiKeyProvider('primary', upstream.url)]) });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });

  function openStream(): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${svc.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('response', (res) => resolve({ req, res }));
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [] }));
    });
  }

  it('aborts the upstream request as soon as the client goes away mid-stream', async () => {
    upstream.reset();
    upstream.script({ kind: 'sse', hold: new Promise(() => {}) });
    const { req, res } = await openStream();
    await new Promise((r) => res.once('data', r));
    req.destroy();
    await upstream.waitForAbort(0, 2000);
    expect(upstream.requests[0].aborted).toBe(true);
  });

  it('aborts the upstream request when the client leaves before the headers came', async () => {
    upstream.reset();
    upstream.script({ kind: 'hang' });
    const req = http.request(`${svc.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end('{"model":"m","max_tokens":1,"messages":[]}');
    await upstream.waitForRequests(1);
    req.destroy();
    await upstream.waitForAbort(0, 2000);
    expect(upstream.requests[0].aborted).toBe(true);
  });
});
