import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';
import { redactSecrets } from '../../src/logging/logger.js';

const PROVIDER_KEY = 'sk-ant-api03-PROVIDERSECRETabcdefghijklmnopqrstuv';
const CLIENT_KEY = 'sk-ant-api03-CLIENTSECRETabcdefghijklmnopqrstuvwx';
const CLIENT_BEARER = 'sk-ant-oat01-CLIENTBEARERabcdefghijklmnopqrstu';
const COOKIE = 'session=COOKIESECRET123456';

describe('request logs', () => {
  let upstream: FakeAnthropic;
  let svc: RunningService;

  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    svc = await startService({ config: configWith([apiKeyProvider('primary', upstream.url, PROVIDER_KEY)], { log_level: 'DEBUG' }) });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });

  it('writes one JSON line per request with its id, method, path, provider, attempts, status, duration and bytes', async () => {
    svc.logs.length = 0;
    const res = await request(`${svc.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"m","max_tokens":1,"messages":[]}',
    });
    const text = await res.body.text();
    await new Promise((r) => setTimeout(r, 20));
    const lines = svc.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      method: 'POST',
      // The query string is not logged (#10.7): it may carry what a log must not.
      path: '/v1/messages',
      provider: 'primary',
      attempts: 1,
      status: 200,
      bytes: Buffer.byteLength(text),
    });
    expect(typeof lines[0].req_id).toBe('string');
    expect(typeof lines[0].duration_ms).toBe('number');
    expect(lines[0].upstream_request_id).toMatch(/^req_/);
    expect(svc.logs.join('\n')).not.toContain('beta=true');
  });

  it('never contains keys, tokens or cookies, in request lines nor in error lines', async () => {
    svc.logs.length = 0;
    upstream.script(
      { kind: 'json', status: 500, body: { type: 'error', error: { type: 'api_error', message: `bad key ${PROVIDER_KEY}` } } },
      { kind: 'reset' },
    );
    for (const h of [
      { 'x-api-key': CLIENT_KEY, cookie: COOKIE },
      { authorization: `Bearer ${CLIENT_BEARER}`, cookie: COOKIE },
    ]) {
      const res = await request(`${svc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...h },
        body: `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"${CLIENT_KEY}"}]}`,
      });
      await res.body.dump();
    }
    // An error path that logs a message carrying a secret.
    svc.service.logger.error({ err: new Error(`upstream said ${PROVIDER_KEY}`), headers: { authorization: `Bearer ${CLIENT_BEARER}`, cookie: COOKIE } }, `failed with ${CLIENT_KEY}`);
    await new Promise((r) => setTimeout(r, 20));
    const all = svc.logs.join('');
    expect(svc.logs.length).toBeGreaterThan(2);
    for (const secret of [PROVIDER_KEY, CLIENT_KEY, CLIENT_BEARER, 'COOKIESECRET123456']) expect(all).not.toContain(secret);
    expect(all).toContain('[REDACTED]');
  });

  it('redacts any sk-ant- string and credential header in a serialized line', () => {
    expect(redactSecrets('{"msg":"token sk-ant-ort01-abc_DEF-123 used"}')).toBe('{"msg":"token [REDACTED] used"}');
    expect(redactSecrets('{"x-api-key":"plain-key-value","authorization":"Basic Zm9v"}')).toBe(
      '{"x-api-key":"[REDACTED]","authorization":"[REDACTED]"}',
    );
    expect(redactSecrets('{"msg":"Bearer abcdefghijkl"}')).toBe('{"msg":"Bearer [REDACTED]"}');
  });
});
