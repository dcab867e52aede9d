// settings.notify: the pool's alerts as JSON POSTs to a local webhook server, filtered by
// settings.notify.events, retried with backoff, never holding a request, never carrying a token.
import { afterEach, describe, expect } from 'vitest';
import { unifiedHeaders } from '../fakes/fake-anthropic.js';
import { admin, eventually, fakeClock, it, postMessage } from '../support/pool.js';
import { startHook, type Hook } from '../support/webhook-receiver.js';

const A = 'alice@example.com';
const P = 'Claude Code Official';
const iso = (ms: number) => new Date(ms).toISOString();

let hook: Hook | undefined;
afterEach(async () => {
  await hook?.close();
  hook = undefined;
});

describe('webhook alerts', () => {
  it('posts rate_limited with its reset and pool_exhausted, one console line each, no token', async ({ startPool }) => {
    hook = await startHook();
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: [A], settings: { notify: { webhook_url: hook.url } } });
    const reset = Math.floor(clock.now() / 1000) + 3600;
    pool.upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset, claim: 'five_hour', util5h: 1.02 }) });
    expect((await postMessage(pool.svc.url)).status).toBe(429);
    await eventually(() => expect(hook!.received).toHaveLength(2));
    expect(hook.received.map((r) => r.body)).toEqual([
      { event: 'rate_limited', account: A, provider: P, reason: 'subscription rate limit reached', until: iso(reset * 1000), at: iso(clock.now()) },
      { event: 'pool_exhausted', account: null, provider: P, reason: expect.any(String), until: iso(reset * 1000), at: iso(clock.now()) },
    ]);
    expect(hook.received[0].contentType).toBe('application/json');
    const token = pool.account(A).record.access_token;
    expect(JSON.stringify(hook.received)).not.toContain(token);
    // The pool stays exhausted: the next request's pool_exhausted is not sent again.
    expect((await postMessage(pool.svc.url)).status).toBe(429);
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.received).toHaveLength(2);
    const lines = pool.svc.logs.filter((l) => l.includes('"alert: '));
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['alert: rate_limited', 'alert: pool_exhausted']);
    expect(lines.join('\n')).not.toContain('secret-path-123');
  });

  it('sends only the events settings.notify.events names', async ({ startPool }) => {
    hook = await startHook();
    const pool = await startPool({ accounts: [A], settings: { notify: { webhook_url: hook.url, events: ['needs_login'] } } });
    pool.upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset: Math.floor(Date.now() / 1000) + 3600 }) });
    expect((await postMessage(pool.svc.url)).status).toBe(429);
    pool.oauth.revokeRefreshToken(A);
    await admin(pool.svc.url, 'POST', `/oauth/refresh/${A}`);
    await eventually(() => expect(hook!.received).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.received.map((r) => [r.body.event, r.body.account, r.body.provider])).toEqual([['needs_login', A, null]]);
  });

  it('retries a failed delivery with backoff on the clock', async ({ startPool }) => {
    hook = await startHook();
    hook.answers = [500, 503];
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: [A], settings: { notify: { webhook_url: hook.url, events: ['needs_login'] } } });
    pool.oauth.revokeRefreshToken(A);
    await admin(pool.svc.url, 'POST', `/oauth/refresh/${A}`);
    await eventually(() => expect(hook!.received).toHaveLength(1));
    await clock.advance(999);
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received).toHaveLength(1);
    await clock.advance(1);
    await eventually(() => expect(hook!.received).toHaveLength(2));
    await clock.advance(5_000);
    await eventually(() => expect(hook!.received).toHaveLength(3));
    await clock.advance(120_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received).toHaveLength(3);
    expect(new Set(hook.received.map((r) => JSON.stringify(r.body))).size).toBe(1);
  });

  it('never holds a request, even when the webhook never answers', async ({ startPool }) => {
    hook = await startHook();
    hook.answers = [0, 0, 0];
    const pool = await startPool({ accounts: [A], settings: { notify: { webhook_url: hook.url } } });
    pool.upstream.script({ kind: 'json', status: 429, headers: unifiedHeaders({ status: 'rejected', reset: Math.floor(Date.now() / 1000) + 3600 }) });
    expect((await postMessage(pool.svc.url)).status).toBe(429);
    await eventually(() => expect(hook!.received.length).toBeGreaterThanOrEqual(1));
    pool.upstream.script({ kind: 'json', status: 200 });
    // Still limited: the pool answers at once, whatever the webhook does.
    expect((await postMessage(pool.svc.url)).status).toBe(429);
  });
});
