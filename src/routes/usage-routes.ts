import type { FastifyInstance } from 'fastify';
import type { Service } from '../service.js';
import { GROUP_BY, HOUR_MS, hourOf, RETENTION_MS, type GroupBy } from '../usage/usage-buckets.js';

/** A time as the query gives it: epoch ms, or an ISO 8601 date or date-time. */
function parseTime(value: string): number | null {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

type Parsed = { ok: true; from: number; to: number; groupBy: GroupBy[] } | { ok: false; message: string };

export function parseUsageQuery(query: Record<string, unknown>, now: number): Parsed {
  for (const name of Object.keys(query)) {
    if (!['from', 'to', 'group_by'].includes(name)) return { ok: false, message: `unknown query parameter "${name}" (known: from, to, group_by)` };
  }
  const one = (name: string): string | undefined | null => {
    const v = query[name];
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : null;
  };
  // By default the last 24 hours, the current one included.
  const times: Record<'from' | 'to', number> = { from: hourOf(now) - 23 * HOUR_MS, to: hourOf(now) + HOUR_MS };
  for (const name of ['from', 'to'] as const) {
    const raw = one(name);
    if (raw === undefined) continue;
    const ms = raw === null ? null : parseTime(raw);
    if (ms === null) return { ok: false, message: `${name} must be an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds, once` };
    times[name] = ms;
  }
  if (times.from > times.to) return { ok: false, message: 'from must not be after to' };
  const rawGroup = one('group_by');
  if (rawGroup === null) return { ok: false, message: 'group_by must be given once (a comma-separated list is allowed)' };
  const groupBy = (rawGroup ?? 'hour').split(',').map((g) => g.trim());
  for (const g of groupBy) {
    if (!(GROUP_BY as readonly string[]).includes(g)) return { ok: false, message: `group_by "${g}" is not one of ${GROUP_BY.join(', ')}` };
  }
  return { ok: true, from: times.from, to: times.to, groupBy: [...new Set(groupBy)] as GroupBy[] };
}

/**
 * GET /admin/usage?from=&to=&group_by=account|model|key|hour: the hourly buckets of the hours
 * overlapping [from, to), summed per group.
 */
export function usageRoutes(app: FastifyInstance, service: Service): void {
  app.get('/admin/usage', async (request, reply) => {
    const now = service.usage.now();
    const parsed = parseUsageQuery(request.query as Record<string, unknown>, now);
    if (!parsed.ok) return reply.code(400).send({ error: 'invalid_request', message: `GET /admin/usage: ${parsed.message}` });
    const { from, to, groupBy } = parsed;
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      group_by: groupBy,
      retention_days: RETENTION_MS / (24 * HOUR_MS),
      buckets: service.usage.store.query(from, to, groupBy),
    };
  });
}
