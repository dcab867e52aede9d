import { canTakeRequests, type Account } from '../oauth/account.js';
import type { ProviderHealth } from '../providers/provider-manager.js';

/** How many of the pool's accounts can take a request now (a refresh in flight counts: requests wait for it). */
export interface AccountCounts {
  usable: number;
  total: number;
}

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface ProviderReport {
  name: string;
  /** Can serve a request now: not cooling down after a failure and, for the pool, an account can take it. */
  healthy: boolean;
  cooldown_until: string | null;
  /** Pool providers only. */
  accounts?: AccountCounts;
}

export interface HealthReport {
  status: HealthStatus;
  providers: ProviderReport[];
  store: { kind: string; state: string };
}

/** HTTP status of /health: a load balancer or monitor takes a 503 as "send nothing here". */
export const HTTP_STATUS_OF_HEALTH: Record<HealthStatus, number> = { ok: 200, degraded: 200, down: 503 };

export function accountCounts(accounts: readonly Account[], now: number): AccountCounts {
  let usable = 0;
  for (const account of accounts) if (canTakeRequests(account.availability(now))) usable++;
  return { usable, total: accounts.length };
}

export interface HealthInput {
  /** The enabled providers in config order, and whether each is served by the account pool. */
  providers: ReadonlyArray<ProviderHealth & { pool: boolean }>;
  /** The pool's accounts now (one pool serves every oauth provider). */
  accounts: AccountCounts;
  store: { kind: string; state?: string };
}

/**
 * The service's health, from data only (the /health route and the dashboard both show it):
 * `down` when no provider can serve, `degraded` when some provider or account cannot (or the
 * shared store is unreachable, so the pool is served from memory), else `ok`.
 */
export function healthReport({ providers, accounts, store }: HealthInput): HealthReport {
  const reports = providers.map(({ name, healthy, cooldown_until, pool }): ProviderReport => {
    if (!pool) return { name, healthy, cooldown_until };
    return { name, healthy: healthy && accounts.usable > 0, cooldown_until, accounts: { ...accounts } };
  });
  const storeState = store.state ?? 'ok';
  const serving = reports.filter((p) => p.healthy).length;
  const someAccountOut = reports.some((p) => p.accounts && p.accounts.usable < p.accounts.total);
  const status: HealthStatus =
    serving === 0 ? 'down' : serving < reports.length || someAccountOut || storeState === 'disconnected' ? 'degraded' : 'ok';
  return { status, providers: reports, store: { kind: store.kind, state: storeState } };
}
