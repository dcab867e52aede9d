import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { apiKeyProvider, configWith, startService } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes } from '../support/oauth-setup.js';
import { admin, postMessage } from '../support/pool.js';

const PASSWORD = 's3cret-proxy-pass';

/** One message through the service; the provider that served it. */
async function send(url: string): Promise<string | undefined> {
  const res = await postMessage(url);
  expect(res.status).toBe(200);
  return res.headers['x-balancer-provider'] as string | undefined;
}

describe('outbound proxy', () => {
  let upstream: FakeAnthropic;
  let proxy: ForwardProxy;
  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    proxy = await startForwardProxy();
  });
  afterAll(async () => {
    await upstream.close();
    await proxy.close();
  });

  it('settings.proxy carries /v1/messages with Proxy-Authorization from the URL, and the password is never logged', async () => {
    proxy.seen.length = 0;
    const proxyUrl = proxy.url.replace('http://', `http://user:${PASSWORD}@`);
    const svc = await startService({ config: configWith([apiKeyProvider('A', upstream.url)], { proxy: proxyUrl }) });
    try {
      expect(await send(svc.url)).toBe('A');
      const host = new URL(upstream.url).host;
      expect(proxy.seen).toEqual([{ target: `CONNECT ${host}`, auth: `Basic ${Buffer.from(`user:${PASSWORD}`).toString('base64')}` }]);
      expect(svc.service.outboundRoutes()[0]).toBe(`A proxy http://***@${new URL(proxy.url).host}`);
      const health = await request(`${svc.url}/health`);
      expect(await health.body.text()).not.toContain(PASSWORD);
      expect(svc.logs.join('\n')).not.toContain(PASSWORD);
    } finally {
      await svc.close();
    }
  });

  it("a provider's proxy: none goes direct although settings.proxy is set", async () => {
    proxy.seen.length = 0;
    const svc = await startService({
      config: configWith([{ ...apiKeyProvider('A', upstream.url), proxy: 'none' }], { proxy: proxy.url }),
    });
    try {
      expect(await send(svc.url)).toBe('A');
      expect(proxy.seen).toEqual([]);
    } finally {
      await svc.close();
    }
  });

  it('HTTP_PROXY from the environment is used, and NO_PROXY excludes a host', async () => {
    proxy.seen.length = 0;
    const host = new URL(upstream.url).host;
    const svc = await startService({ config: configWith([apiKeyProvider('A', upstream.url)]), env: { HTTP_PROXY: proxy.url } });
    try {
      expect(await send(svc.url)).toBe('A');
      expect(proxy.seen.map((s) => s.target)).toEqual([`CONNECT ${host}`]);
    } finally {
      await svc.close();
    }
    proxy.seen.length = 0;
    const excluded = await startService({
      config: configWith([apiKeyProvider('A', upstream.url)]),
      env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
    });
    try {
      expect(await send(excluded.url)).toBe('A');
      expect(proxy.seen).toEqual([]);
    } finally {
      await excluded.close();
    }
  });
});

describe('outbound proxy for the token endpoint', () => {
  // The token endpoint's name resolves only at the proxy: a login or refresh that skipped the
  // proxy would fail its DNS lookup, so a success is proof it went through.
  const PROXIED_HOST = 'oauth.proxied.test';
  const viaProxy = (url: string) => url.replace(/^http:\/\/127\.0\.0\.1:/, `http://${PROXIED_HOST}:`);

  it('settings.proxy carries the code exchange, the profile lookup and a refresh', async () => {
    const proxy = await startForwardProxy({ [PROXIED_HOST]: '127.0.0.1' });
    const fakes = await startOAuthFakes();
    const { oauth } = fakes;
    const settings = oauthSettingsFor(oauth, { token_url: viaProxy(oauth.tokenUrl), profile_url: viaProxy(oauth.profileUrl) });
    const svc = await startService({
      config: configWith([oauthProvider(fakes.upstream.url)], { proxy: proxy.url, oauth: settings }),
    });
    try {
      const url = await admin(svc.url, 'GET', '/oauth/generate-url');
      const code = await oauth.approve(url.json.login_url, 'alice@example.com');
      const login = await admin(svc.url, 'POST', '/oauth/exchange-code', { body: { code } });
      expect(login.status).toBe(200);
      const oauthPort = new URL(oauth.tokenUrl).port;
      expect(proxy.seen.some((s) => s.target === `CONNECT ${PROXIED_HOST}:${oauthPort}`)).toBe(true);

      const refresh = await admin(svc.url, 'POST', '/oauth/refresh/alice@example.com');
      expect(refresh.status).toBe(200);
      expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
      expect(proxy.seen.every((s) => s.target.startsWith('CONNECT '))).toBe(true);
    } finally {
      await svc.close();
      await fakes.close();
      await proxy.close();
    }
  });
});
