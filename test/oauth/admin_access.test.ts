// Issue 3, admin access: loopback-only without admin_token; with it, the token is required from
// everyone; /v1 is unaffected; and the service will not listen beyond loopback without a token.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect } from 'vitest';
import { buildApp } from '../../src/app.js';
import { runCli } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { it, admin, postMessage, type Pool } from '../support/pool.js';

let extraApp: FastifyInstance | undefined;
afterEach(async () => {
  await extraApp?.close();
  extraApp = undefined;
});

const ADMIN_TOKEN = 'a-long-admin-token-0123456789';

/** An address of this machine that is not loopback, if it has one. */
const externalIPv4 = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe('without admin_token', () => {
  it('answers loopback clients without a token', async ({ startPool }) => {
    const pool = await startPool();
    expect((await admin(pool.svc.url, 'GET', '/oauth/status')).status).toBe(200);
    expect((await admin(pool.svc.url, 'GET', '/oauth/generate-url')).status).toBe(200);
    expect((await admin(pool.svc.url, 'POST', '/admin/reload')).status).toBe(200);
  });

  it('refuses loopback requests addressed by a foreign name or from a foreign web origin (DNS rebinding, CSRF)', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    const port = new URL(pool.svc.url).port;
    const refused: Array<Record<string, string>> = [
      { host: `attacker.example:${port}` },
      { origin: 'http://attacker.example' },
      { origin: 'null' },
    ];
    for (const headers of refused) {
      const res = await admin(pool.svc.url, 'DELETE', '/oauth/tokens', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    expect((await pool.status()).total_tokens).toBe(1);
    const allowed: Array<Record<string, string>> = [{ host: `localhost:${port}` }, { origin: 'http://localhost:3000' }, { host: `[::1]:${port}` }];
    for (const headers of allowed) {
      expect((await admin(pool.svc.url, 'GET', '/oauth/status', { headers })).status, JSON.stringify(headers)).toBe(200);
    }
  });

  it.skipIf(!externalIPv4)('refuses a client that is not on loopback (403), on every admin route', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    // A second listener of the same service on this machine's non-loopback address: the peer
    // address of a connection to it is that address, not 127.0.0.1.
    extraApp = buildApp(pool.svc.service);
    await extraApp.listen({ host: externalIPv4!, port: 0 });
    const port = (extraApp.server.address() as { port: number }).port;
    const remote = `http://${externalIPv4}:${port}`;

    for (const [method, path] of [
      ['GET', '/oauth/status'],
      ['GET', '/oauth/generate-url'],
      ['DELETE', '/oauth/tokens'],
      ['POST', '/admin/reload'],
    ] as const) {
      const res = await admin(remote, method, path);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect((await pool.status()).total_tokens).toBe(1);
    // /v1 is not an admin route.
    expect((await postMessage(remote)).status).toBe(200);
  });
});

describe('with admin_token', () => {
  it('requires the token from every caller, as Bearer or x-admin-token; /v1 is unaffected', async ({ startPool }) => {
    const pool = await startPool({ settings: { admin_token: ADMIN_TOKEN }, accounts: [] });
    const url = pool.svc.url;

    const missing = await admin(url, 'GET', '/oauth/status');
    expect(missing.status).toBe(401);
    expect(missing.text).not.toContain(ADMIN_TOKEN);
    expect((await admin(url, 'GET', '/oauth/status', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await admin(url, 'GET', '/oauth/status', { headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } })).status).toBe(401);
    expect((await admin(url, 'GET', '/oauth/status', { headers: { 'x-admin-token': ADMIN_TOKEN.slice(0, -1) } })).status).toBe(401);
    expect((await admin(url, 'POST', '/admin/reload')).status).toBe(401);
    expect((await admin(url, 'DELETE', '/oauth/tokens')).status).toBe(401);

    expect((await admin(url, 'GET', '/oauth/status', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await admin(url, 'GET', '/oauth/status', { headers: { 'x-admin-token': ADMIN_TOKEN } })).status).toBe(200);

    // A login with the token works end to end; then /v1 serves without it (the client's own credential is not the admin token).
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const gen = await admin(url, 'GET', '/oauth/generate-url', { headers: auth });
    const code = await pool.oauth.approve(gen.json.login_url, 'alice@example.com');
    expect((await admin(url, 'POST', '/oauth/exchange-code', { body: { code }, headers: auth })).status).toBe(200);
    expect((await postMessage(url)).status).toBe(200);
    expect((await postMessage(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    // The admin token never goes upstream.
    expect(JSON.stringify(pool.upstream.requests.map((r) => r.headers))).not.toContain(ADMIN_TOKEN);
  });

  it.skipIf(!externalIPv4)('accepts a non-loopback client that presents the token', async ({ startPool }) => {
    const pool = await startPool({ settings: { admin_token: ADMIN_TOKEN } });
    extraApp = buildApp(pool.svc.service);
    await extraApp.listen({ host: externalIPv4!, port: 0 });
    const remote = `http://${externalIPv4}:${(extraApp.server.address() as { port: number }).port}`;
    expect((await admin(remote, 'GET', '/oauth/status')).status).toBe(401);
    expect((await admin(remote, 'GET', '/oauth/status', { headers: { 'x-admin-token': ADMIN_TOKEN } })).status).toBe(200);
  });
});

describe('serve on a non-loopback host', () => {
  it('refuses to start without admin_token and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccb-admin-'));
    const configPath = join(dir, 'providers.yaml');
    writeFileSync(
      configPath,
      yaml.dump(configWith([{ name: 'p', type: 'anthropic', base_url: 'http://127.0.0.1:1', auth_type: 'auth_token', auth_value: 'oauth' }], {
        port: 0,
        oauth: { enable_persistence: false },
      })),
    );
    const res = await runCli(['serve', '--config', configPath, '--host', '0.0.0.0'], {
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/0\.0\.0\.0/);
    expect(res.stderr).toMatch(/admin_token/);
  });
});
