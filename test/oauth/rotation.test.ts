// Issue 3, rotation: round-robin over the pool, usage statistics, and what goes upstream.
import { describe, expect } from 'vitest';
import { OAUTH_BETA } from '../fakes/fake-anthropic.js';
import { it, fakeClock, MINUTE, postMessage, type Pool } from '../support/pool.js';

describe('round-robin rotation over two accounts', () => {
  it('alternates the accounts and counts each use', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { strategy: 'round_robin' }, accounts: ['a@example.com', 'b@example.com'] });
    const tokenOf = (email: string) => `Bearer ${pool!.account(email).record.access_token}`;

    const served: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await postMessage(pool.svc.url, { headers: { 'x-claude-code-session-id': 'one-session' } });
      expect(res.status).toBe(200);
      served.push(String(res.headers['x-balancer-account']));
    }
    expect(served).toEqual(['a@example.com', 'b@example.com', 'a@example.com', 'b@example.com', 'a@example.com', 'b@example.com']);
    // The upstream saw the accounts' own tokens in the same order.
    expect(pool.upstream.requests.map((r) => r.headers.authorization)).toEqual(
      served.map((email) => tokenOf(email)),
    );

    await clock.advance(5 * MINUTE);
    const status = await pool.status();
    for (const email of ['a@example.com', 'b@example.com']) {
      const t = status.tokens.find((x: { account_email: string }) => x.account_email === email);
      expect(t.usage_count).toBe(3);
      expect(t.last_used).toBe('5 minutes ago');
      expect(Date.parse(t.last_used_timestamp)).toBe(clock.now() - 5 * MINUTE);
    }
  });

  it('reports a never-used account as never used', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com'] });
    const [t] = (await pool.status()).tokens;
    expect(t).toMatchObject({ usage_count: 0, last_used: 'never', last_used_timestamp: null });
  });
});

describe('the upstream request of an oauth account', () => {
  it("carries the account's Bearer and the oauth beta merged with the client's betas, never the client's credentials", async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com'] });
    const res = await postMessage(pool.svc.url, {
      headers: {
        'x-api-key': 'sk-ant-api03-client-key-that-must-not-leak',
        authorization: 'Bearer client-secret-that-must-not-leak',
        'anthropic-beta': `claude-code-20250219, ${OAUTH_BETA},interleaved-thinking-2025-05-14`,
      },
    });
    expect(res.status).toBe(200);
    const seen = pool.upstream.requests[0].headers;
    expect(seen.authorization).toBe(`Bearer ${pool.account('a@example.com').record.access_token}`);
    expect(seen['x-api-key']).toBeUndefined();
    expect(seen['anthropic-beta']).toBe(`claude-code-20250219,${OAUTH_BETA},interleaved-thinking-2025-05-14`);
    expect(JSON.stringify(seen)).not.toContain('must-not-leak');
  });

  it('adds the oauth beta when the client sends none', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com'] });
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect(pool.upstream.requests[0].headers['anthropic-beta']).toBe(OAUTH_BETA);
  });

  it('forwards the body byte for byte', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['a@example.com'] });
    const body = '{"model":"claude-sonnet-4-5",  "max_tokens":16,"metadata":{"user_id":"{\\"session_id\\":\\"s\\"}"},"messages":[]}';
    expect((await postMessage(pool.svc.url, { body })).status).toBe(200);
    expect(pool.upstream.requests[0].body.toString()).toBe(body);
  });
});
