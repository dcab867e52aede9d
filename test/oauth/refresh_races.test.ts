import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { FileTokenStore } from '../../src/store/file-store.js';
import { AccountPersistence } from '../../src/oauth/account-persistence.js';
import { Account } from '../../src/oauth/account.js';
import type { AccountRecord } from '../../src/store/account-record.js';
import { systemClock } from '../../src/oauth/clock.js';
import { createLogger } from '../../src/logging/logger.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import { it, admin, type Pool } from '../support/pool.js';

describe('races between refresh, login, delete and shutdown (regressions)', () => {
  it('shutting down while a refresh is under way stores the rotated refresh token before exiting', async ({ startPool }) => {
    // A real file store: its fsyncs take long enough for an exit to overtake them.
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-race-')), 'accounts.json');
    const pool = await startPool({ accounts: ['alice@example.com'], store: new FileTokenStore(file) });
    pool.oauth.delayTokenMs = 300;
    const refreshing = pool.svc.service.oauth.refresher.refresh(pool.account('alice@example.com'));
    // The refresh has reached the token endpoint; now the service is asked to stop.
    await new Promise((r) => setTimeout(r, 50));
    await pool.svc.close();
    // The CLI exits right after close(): what is in the store now is all that survives.
    const [stored] = await new FileTokenStore(file).load();
    await refreshing;
    expect(stored.refresh_token).toBe(pool.oauth.currentRefreshToken('alice@example.com'));
  });

  it('a new login while a failing refresh is in flight is not marked reauth_required by it', async ({ startPool }) => {
    const pool = await startPool({ accounts: ['alice@example.com'] });
    pool.oauth.revokeRefreshToken('alice@example.com');
    const url = await admin(pool.svc.url, 'GET', '/oauth/generate-url');
    const code = await pool.oauth.approve(url.json.login_url, 'alice@example.com');
    // The refresh with the dead token answers only after the new login's exchange has.
    pool.oauth.delayTokenMs = 300;
    const failing = pool.svc.service.oauth.refresher.refresh(pool.account('alice@example.com')).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    pool.oauth.delayTokenMs = 0;
    const relogin = await admin(pool.svc.url, 'POST', '/oauth/exchange-code', { body: { code } });
    expect(relogin.status).toBe(200);
    expect(await failing).toBeInstanceOf(Error);
    expect(pool.state('alice@example.com')).toBe('active');
    const [stored] = await pool.store.load();
    expect(stored.verdict).toBeNull();
    expect(stored.refresh_token).toBe(pool.oauth.currentRefreshToken('alice@example.com'));
  });

  it('a malformed callback URL is a 400, not a 500', async ({ startPool }) => {
    const pool = await startPool();
    const res = await admin(pool.svc.url, 'POST', '/oauth/exchange-code', { body: { code: 'https://exa mple.com/cb?code=x' } });
    expect(res.status).toBe(400);
  });
});

/** A memory store whose writes wait for the test to let them through. */
class GatedStore extends MemoryTokenStore {
  private gates: Array<() => void> = [];
  override async save(account: AccountRecord): Promise<void> {
    await new Promise<void>((release) => this.gates.push(release));
    await super.save(account);
  }
  releaseAll(): void {
    for (const release of this.gates.splice(0)) release();
  }
  get waiting(): number {
    return this.gates.length;
  }
}

function poolAccount(email: string, token: string): Account {
  const now = Date.now();
  return new Account({
    email,
    access_token: `sk-ant-oat01-${token}`,
    refresh_token: `sk-ant-ort01-${token}`,
    expires_at: now + 3_600_000,
    scopes: ['user:inference'],
    account_uuid: null,
    organization_uuid: null,
    organization_name: null,
    created_at: now,
    usage_count: 0,
    last_used: null,
    last_refresh_at: null,
    verdict: null,
    utilization_5h: null,
    utilization_7d: null,
  }, 0);
}

describe('account persistence ordering (regression)', () => {
  it('a delete and a new login of the same email while an old write is queued: the new login is stored', async () => {
    const store = new GatedStore();
    const persistence = new AccountPersistence(store, systemClock, createLogger({ level: 'silent' }));
    const old = poolAccount('dup@example.com', 'OLD');
    const first = persistence.save(old);
    await new Promise((r) => setImmediate(r)); // running now, held at the gate
    const queued = persistence.save(old); // queued behind it, not started
    expect(store.waiting).toBe(1);
    old.retired = true;
    const removal = persistence.remove('dup@example.com');
    const fresh = poolAccount('dup@example.com', 'NEW');
    const saved = persistence.save(fresh);
    for (let i = 0; i < 10 && !(await Promise.race([saved.then(() => true), new Promise((r) => setImmediate(() => r(false)))])); i++) {
      store.releaseAll();
    }
    await Promise.all([first, queued, removal, saved]);
    expect(await saved).toBe(true);
    const stored = await store.load();
    expect(stored.map((r) => r.refresh_token)).toEqual(['sk-ant-ort01-NEW']);
  });
});
