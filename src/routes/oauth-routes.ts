import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { statusName, type Account } from '../oauth/account.js';
import { exchangeCurl } from '../oauth/auth-required.js';
import { LoginError } from '../oauth/login-flow.js';
import { LOGIN_TTL_MS } from '../oauth/pending-logins.js';
import { liveSnapshot } from '../store/account-record.js';
import { fieldsOf } from './admin-body.js';
import type { ParsedBody } from './receive-body.js';
import type { Service } from '../service.js';
import { adminError } from './admin-errors.js';

const CODE_REQUIRED = 'code is required: paste CODE#STATE as the callback page shows it';
const exchangeBody = z.object({
  code: z.string({ error: CODE_REQUIRED }).trim().min(1, CODE_REQUIRED),
  account_email: z.string().trim().email('account_email must be an email address').optional(),
});

export function timeAgo(then: number | null, now: number): string {
  if (then === null) return 'never';
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 60) return seconds <= 1 ? 'just now' : `${seconds} seconds ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? '1 minute ago' : `${minutes} minutes ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return hours === 1 ? '1 hour ago' : `${hours} hours ago`;
  return `${Math.round(hours / 24)} days ago`;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What /oauth/status shows of an account: everything but its tokens. */
export function accountStatus(account: Account, now: number) {
  const { record, limits } = account;
  const availability = account.availability(now);
  const u5 = liveSnapshot(record.utilization_5h, now);
  const u7 = liveSnapshot(record.utilization_7d, now);
  return {
    account_email: record.email,
    status: statusName(availability),
    availability: availability.state === 'usable' ? availability : { ...availability, until: iso(availability.until ?? null) },
    is_healthy: availability.state === 'usable',
    expires_at: iso(record.expires_at),
    expires_in_minutes: Math.round((record.expires_at - now) / 60_000),
    usage_count: record.usage_count,
    attempts: account.attempts,
    last_used: timeAgo(record.last_used, now),
    last_used_timestamp: iso(record.last_used),
    created_at: iso(record.created_at),
    scopes: record.scopes,
    last_refresh_at: iso(record.last_refresh_at),
    last_error: record.verdict?.reason ?? account.lastError,
    organization_name: record.organization_name,
    rate_limit: {
      status: limits.status,
      utilization_5h: u5?.utilization ?? null,
      utilization_7d: u7?.utilization ?? null,
      claim: limits.claim,
      resets_at: iso(limits.resetsAt),
      resets_5h_at: iso(u5?.resets_at ?? null),
      resets_7d_at: iso(u7?.resets_at ?? null),
      limited_until: limits.limitedUntil > now ? iso(limits.limitedUntil) : null,
      cooldown_until: limits.cooldownUntil > now ? iso(limits.cooldownUntil) : null,
    },
  };
}

/** The account pool's admin API (behind the admin access guard). */
export function oauthRoutes(app: FastifyInstance, service: Service): void {
  const { pool, logins, refresher } = service.oauth;

  app.get('/oauth/generate-url', async () => {
    const login = logins.start();
    return {
      login_url: login.loginUrl,
      state: login.state,
      expires_at: new Date(login.expiresAt).toISOString(),
      expires_in_minutes: LOGIN_TTL_MS / 60_000,
      instructions: [
        '1. Open login_url in a browser and sign in to your Claude account.',
        '2. Copy the code the page shows (CODE#STATE).',
        `3. Send it: ${exchangeCurl(service.url)}`,
      ],
    };
  });

  app.post('/oauth/exchange-code', async (request, reply) => {
    // JSON, or a form (curl -d code=...): either way an object of fields; no body is no fields.
    const parsed = exchangeBody.safeParse(fieldsOf(request.headers['content-type'], request.body as ParsedBody | undefined) ?? {});
    if (!parsed.success) return adminError(reply, 400, 'invalid_request', parsed.error.issues.map((i) => i.message).join('; '));
    try {
      const account = await logins.exchange(parsed.data.code, parsed.data.account_email);
      return {
        status: 'success',
        account_email: account.record.email,
        expires_at: new Date(account.record.expires_at).toISOString(),
        scopes: account.record.scopes,
        total_accounts: pool.list().length,
      };
    } catch (err) {
      if (err instanceof LoginError) {
        return adminError(reply, err.status, String(err.details.error ?? 'login_failed'), err.message, err.details);
      }
      throw err;
    }
  });

  app.get('/oauth/status', async () => {
    const now = pool.clock.now();
    const tokens = pool.list().map((a) => accountStatus(a, now));
    return {
      total_tokens: tokens.length,
      healthy_tokens: tokens.filter((t) => t.is_healthy).length,
      strategy: service.oauth.settings.strategy,
      store: { kind: pool.store.kind, location: pool.store.location },
      tokens,
    };
  });

  app.delete('/oauth/tokens/:email', async (request, reply) => {
    const { email } = request.params as { email: string };
    if (!(await pool.remove(email))) return adminError(reply, 404, 'not_found', `No account ${email} in the pool.`);
    return { status: 'removed', account_email: email, remaining: pool.list().length };
  });

  app.delete('/oauth/tokens', async () => ({ status: 'removed', removed: await pool.removeAll() }));

  app.post('/oauth/refresh/:email', async (request, reply) => {
    const { email } = request.params as { email: string };
    const account = pool.get(email);
    if (!account) return adminError(reply, 404, 'not_found', `No account ${email} in the pool.`);
    try {
      await refresher.refresh(account);
      return { status: 'refreshed', account_email: account.record.email, expires_at: new Date(account.record.expires_at).toISOString() };
    } catch (err) {
      return adminError(reply, 502, 'refresh_failed', (err as Error).message, {
        account_email: account.record.email,
        account_status: statusName(account.availability(pool.clock.now())),
      });
    }
  });
}
