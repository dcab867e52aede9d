// Issue 3, refresh: the timer at expiry − lead, rotation of the single-use refresh token, transient
// failures, single-flight under concurrency, and invalid_grant taking an account out.
import { describe, expect } from 'vitest';
import type { AccountRecord } from '../../src/store/account-record.js';
import type { Account } from '../../src/oauth/account.js';
import { REFRESH_SPACING_MS } from '../../src/oauth/refresher.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { SCOPES } from '../fakes/fake-oauth.js';
import { it, eventually, fakeClock, HOUR, MINUTE, postMessage, type Pool } from '../support/pool.js';

const TTL_MS = 8 * HOUR; // the fake's default expires_in
const REFRESH_SCOPE = SCOPES.filter((s) => s !== 'org:create_api_key').join(' ');

/** A memory store that also remembers, synchronously, the refresh token it last stored per account. */
class WatchedStore extends MemoryTokenStore {
  readonly refreshTokens = new Map<string, string | null>();
  override async save(account: AccountRecord): Promise<void> {
    await super.save(account);
    this.refreshTokens.set(account.email, account.refresh_token);
  }
}

/** When the refresher will refresh the account on its timer (null: not scheduled). */
const scheduledAt = (p: Pool, account: Account) => p.svc.service.oauth.refresher.scheduledAt(account);

describe('scheduled refresh', () => {
  it('fires refresh_lead_seconds before expiry, rotates the refresh token into the store, and reschedules', async ({ startPool }) => {
    const clock = fakeClock();
    const store = new WatchedStore();
    const pool = await startPool({ clock, store, oauth: { refresh_lead_seconds: 600 }, accounts: ['alice@example.com'] });
    const { oauth } = pool;
    const account = pool.account('alice@example.com');
    const firstAccess = account.record.access_token;
    const firstRefresh = account.record.refresh_token;
    expect(store.refreshTokens.get('alice@example.com')).toBe(firstRefresh);
    const dueAt = clock.now() + TTL_MS - 600_000;
    expect(scheduledAt(pool, account)).toBe(dueAt);

    await clock.advance(TTL_MS - 600_000 - 1000);
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(0);
    expect(scheduledAt(pool, account)).toBe(dueAt);

    await clock.advance(1000);
    await eventually(() => expect(account.record.access_token).not.toBe(firstAccess));
    await eventually(() => expect(pool!.state(account)).toBe('active'));
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
    const call = oauth.tokenCalls.at(-1)!;
    expect(call.body).toEqual({ grant_type: 'refresh_token', refresh_token: firstRefresh, client_id: oauth.clientId, scope: REFRESH_SCOPE });

    // The old refresh token is dead at the fake; the pool and the store hold the new one.
    const rotated = oauth.currentRefreshToken('alice@example.com');
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(firstRefresh);
    expect(account.record.refresh_token).toBe(rotated);
    expect((await store.load())[0].refresh_token).toBe(rotated);
    expect(account.record.expires_at).toBe(clock.now() + TTL_MS);
    const [shown] = (await pool.status()).tokens;
    expect(Date.parse(shown.last_refresh_at)).toBe(clock.now());

    // The new token serves requests.
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect(pool.upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${account.record.access_token}`);

    // Rescheduled for the new expiry, with the rotated token.
    const nextDueAt = clock.now() + TTL_MS - 600_000;
    expect(scheduledAt(pool, account)).toBe(nextDueAt);
    await clock.advance(TTL_MS - 600_000 - 1000);
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
    expect(scheduledAt(pool, account)).toBe(nextDueAt);
    await clock.advance(1000);
    await eventually(() => expect(oauth.refreshCallsFor('alice@example.com')).toBe(2));
    expect(oauth.tokenCalls.at(-1)!.body.refresh_token).toBe(rotated);
    await eventually(() => expect(account.record.refresh_token).toBe(oauth.currentRefreshToken('alice@example.com')));
  });

  it('keeps the token after a transient failure and retries after refresh_retry_seconds', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { refresh_retry_seconds: 900 }, accounts: ['alice@example.com'] });
    const { oauth } = pool;
    const account = pool.account('alice@example.com');
    const { access_token: access, refresh_token: refresh } = account.record;

    oauth.failNext(1, 503, { grant: 'refresh_token' });
    await clock.advance(TTL_MS - 300_000);
    await eventually(() => expect(oauth.tokenCalls.map((c) => c.status)).toEqual([200, 503]));
    await eventually(() => expect(pool!.state(account)).toBe('active'));
    expect(account.record.access_token).toBe(access);
    expect(account.record.refresh_token).toBe(refresh);
    const [shown] = (await pool.status()).tokens;
    expect(shown.last_error).toMatch(/refresh/i);
    expect(shown.is_healthy).toBe(true);

    // Inside the lead window but not expired: requests use the current token without hammering the endpoint.
    expect((await postMessage(pool.svc.url)).status).toBe(200);
    expect(pool.upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${access}`);
    expect(oauth.tokenCalls).toHaveLength(2);

    const retryAt = clock.now() + 900_000;
    expect(scheduledAt(pool, account)).toBe(retryAt);
    await clock.advance(900_000 - 1000);
    expect(oauth.tokenCalls).toHaveLength(2);
    expect(scheduledAt(pool, account)).toBe(retryAt);
    await clock.advance(1000);
    await eventually(() => expect(account.record.access_token).not.toBe(access));
    expect(oauth.tokenCalls.map((c) => c.status)).toEqual([200, 503, 200]);
    await eventually(() => expect(account.lastError).toBeNull());
  });

  it('refreshes sooner, on demand, when the token expired during the retry wait', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { refresh_retry_seconds: 3600 }, accounts: ['alice@example.com'] });
    const { oauth } = pool;
    oauth.failNext(1, 500, { grant: 'refresh_token' });
    await clock.advance(TTL_MS - 300_000);
    await eventually(() => expect(oauth.tokenCalls.map((c) => c.status)).toEqual([200, 500]));
    await eventually(() => expect(pool!.state('alice@example.com')).toBe('active'));

    oauth.revokeAccessTokens('alice@example.com');
    clock.jump(10 * MINUTE); // expired now; the retry is still 50 minutes away
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(2);
  });

  it('keeps the refresh token when the endpoint sends no new one', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com'] });
    const account = pool.account('alice@example.com');
    const refresh = account.record.refresh_token;
    const access = account.record.access_token;
    pool.oauth.omitRefreshTokenOnRefresh = true;
    await clock.advance(TTL_MS - 300_000);
    await eventually(() => expect(account.record.access_token).not.toBe(access));
    expect(account.record.refresh_token).toBe(refresh);
    expect((await pool.store.load())[0].refresh_token).toBe(refresh);
    // And it still works for the next refresh.
    await clock.advance(TTL_MS - 300_000);
    await eventually(() => expect(pool!.oauth.refreshCallsFor('alice@example.com')).toBe(2));
    await eventually(() => expect(pool!.state(account)).toBe('active'));
    expect(account.lastError).toBeNull();
  });

  it('does not refresh on a timer with enable_auto_refresh: false', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, oauth: { enable_auto_refresh: false }, accounts: ['alice@example.com'] });
    expect(scheduledAt(pool, pool.account('alice@example.com'))).toBeNull();
    await clock.advance(TTL_MS - 1000);
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(0);
    expect(scheduledAt(pool, pool.account('alice@example.com'))).toBeNull();
  });
});

describe('refresh on demand', () => {
  it('refreshes first when the token is inside the lead window, and stores the new pair before using it', async ({ startPool }) => {
    const clock = fakeClock();
    const store = new WatchedStore();
    const pool = await startPool({ clock, store, accounts: ['alice@example.com'] });
    const account = pool.account('alice@example.com');
    const oldAccess = account.record.access_token;
    let storedWhenUsed: string | null | undefined;
    pool.upstream.onRequest(() => {
      storedWhenUsed = store.refreshTokens.get('alice@example.com');
      return undefined;
    });

    clock.jump(TTL_MS - 100_000);
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(1);
    const seen = pool.upstream.requests.at(-1)!.headers.authorization;
    expect(seen).not.toBe(`Bearer ${oldAccess}`);
    expect(seen).toBe(`Bearer ${account.record.access_token}`);
    expect(storedWhenUsed).toBe(pool.oauth.currentRefreshToken('alice@example.com'));
  });

  it('makes exactly one refresh call for 50 concurrent requests on an expired token, and all of them succeed', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com'] });
    const { oauth } = pool;
    oauth.revokeAccessTokens('alice@example.com');
    oauth.delayTokenMs = 300; // the refresh is still running when the other requests arrive
    clock.jump(TTL_MS + MINUTE);

    const results = await Promise.all(Array.from({ length: 50 }, () => postMessage(pool!.svc.url)));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
    expect(oauth.tokenCalls.filter((c) => c.grant_type === 'refresh_token')).toHaveLength(1);
    const newToken = `Bearer ${pool.account('alice@example.com').record.access_token}`;
    expect(new Set(pool.upstream.requests.map((r) => r.headers.authorization))).toEqual(new Set([newToken]));
  });
});

describe('at startup', () => {
  it('refreshes a stored account whose token expired while the service was down', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com'] });
    const before = pool.account('alice@example.com').record.access_token;
    await pool.svc.close();

    clock.jump(TTL_MS + HOUR);
    pool.oauth.revokeAccessTokens('alice@example.com');
    await pool.restart();
    await eventually(() => expect(pool!.oauth.refreshCallsFor('alice@example.com')).toBe(1));
    await eventually(() => expect(pool!.state('alice@example.com')).toBe('active'));
    expect(pool.account('alice@example.com').record.access_token).not.toBe(before);
    expect((await postMessage(pool.svc.url)).status).toBe(200);
  });
});

describe('invalid_grant', () => {
  it('on the timer: marks the account reauth_required and takes it out of rotation and of the schedule', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth } = pool;
    oauth.revokeRefreshToken('alice@example.com');

    await clock.advance(TTL_MS - 300_000);
    await eventually(() => expect(pool!.state('alice@example.com')).toBe('needs_login'));
    // Timed refreshes start REFRESH_SPACING_MS apart.
    await clock.advance(REFRESH_SPACING_MS);
    await eventually(() => expect(oauth.refreshCallsFor('bob@example.com')).toBe(1));

    const alice = (await pool.status()).tokens.find((t: { account_email: string }) => t.account_email === 'alice@example.com');
    expect(alice).toMatchObject({ status: 'needs_login', is_healthy: false });
    expect(alice.last_error).toMatch(/invalid_grant/);

    for (let i = 0; i < 4; i++) {
      const res = await postMessage(pool.svc.url);
      expect(res.status).toBe(200);
      expect(res.headers['x-balancer-account']).toBe('bob@example.com');
    }
    await clock.advance(TTL_MS);
    await eventually(() => expect(oauth.refreshCallsFor('bob@example.com')).toBe(2));
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
  });

  it('on demand: the request fails over to the other account', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, accounts: ['alice@example.com', 'bob@example.com'] });
    const { oauth } = pool;
    oauth.revokeRefreshToken('alice@example.com');
    oauth.revokeAccessTokens('alice@example.com');
    oauth.revokeAccessTokens('bob@example.com');
    clock.jump(TTL_MS + MINUTE);

    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(res.headers['x-balancer-account']).toBe('bob@example.com');
    expect(pool!.state('alice@example.com')).toBe('needs_login');
    expect(oauth.refreshCallsFor('alice@example.com')).toBe(1);
    // Alice never reached the upstream with her dead token.
    expect(pool.upstream.requests).toHaveLength(1);
  });
});
