// /health tells the truth: ok only when everything can serve, degraded when a provider or an
// account cannot, down (503) when nothing can; the pool's accounts counted per pool provider.
import { describe, expect } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, unifiedHeaders } from '../fakes/fake-anthropic.js';
import { apiKeyProvider } from '../support/harness.js';
import { it, postMessage, type Pool } from '../support/pool.js';

const POOL = 'Claude Code Official';

async function health(pool: Pool) {
  const res = await request(`${pool.svc.url}/health`);
  return { code: res.statusCode, body: (await res.body.json()) as any };
}

describe('/health', () => {
  it('ok with every account usable, counted under the pool provider', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com', 'b@example.com'] });
    expect(await health(pool)).toEqual({
      code: 200,
      body: {
        status: 'ok',
        providers: [{ name: POOL, healthy: true, cooldown_until: null, accounts: { usable: 2, total: 2 } }],
        store: { kind: 'memory', state: 'ok' },
      },
    });
  });

  it('down (503) with an empty pool and nothing else to serve', async ({ startPool }) => {
    const pool = await startPool();
    expect(await health(pool)).toEqual({
      code: 503,
      body: {
        status: 'down',
        providers: [{ name: POOL, healthy: false, cooldown_until: null, accounts: { usable: 0, total: 0 } }],
        store: { kind: 'memory', state: 'ok' },
      },
    });
  });

  it('degraded when one account is rate limited; down once the last one needs a login', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com', 'b@example.com'] });
    const reset = Math.floor(Date.now() / 1000) + 3600;
    pool.upstream.onRequest((req) =>
      req.headers.authorization === `Bearer ${pool.account('a@example.com').record.access_token}`
        ? { kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset }) }
        : undefined,
    );
    // a is first for a new conversation (both at 0 % utilization, login order); its 429 moves the request to b.
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect(pool.state('a@example.com')).toBe('rate_limited');
    const degraded = await health(pool);
    expect(degraded.code).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.providers).toEqual([{ name: POOL, healthy: true, cooldown_until: null, accounts: { usable: 1, total: 2 } }]);

    pool.oauth.revokeAccessTokens('b@example.com');
    pool.oauth.revokeRefreshToken('b@example.com');
    expect((await postMessage(pool.svc.url)).status).toBe(429);
    expect(pool.state('b@example.com')).toBe('needs_login');
    const down = await health(pool);
    expect(down.code).toBe(503);
    expect(down.body.status).toBe('down');
    expect(down.body.providers[0]).toMatchObject({ healthy: false, accounts: { usable: 0, total: 2 } });
  });

  it('degraded when the pool cannot serve but an API-key provider can', async ({ startPool }) => {
    const keyed = await startFakeAnthropic();
    try {
      const pool = await startPool({ moreProviders: [apiKeyProvider('api', keyed.url)] });
      const res = await health(pool);
      expect(res.code).toBe(200);
      expect(res.body.status).toBe('degraded');
      expect(res.body.providers).toEqual([
        { name: POOL, healthy: false, cooldown_until: null, accounts: { usable: 0, total: 0 } },
        { name: 'api', healthy: true, cooldown_until: null },
      ]);
    } finally {
      await keyed.close();
    }
  });
});
