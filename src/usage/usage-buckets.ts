import { zeroTokens, type TokenCounts } from './usage-tap.js';

export const HOUR_MS = 3_600_000;
export const RETENTION_MS = 30 * 24 * HOUR_MS;

/** How a failed request is counted. */
export type ErrorClass = 'rate_limited' | 'auth' | 'client' | 'server' | 'unavailable' | 'stream' | 'client_closed';

/** One finished request, as the usage store counts it. */
export interface FinishedRequest {
  /** Epoch ms when it finished. */
  at: number;
  /** The provider that answered (providers.yaml name); null when none could be tried. */
  provider: string | null;
  /** The OAuth account that served it; null for a key provider. */
  account: string | null;
  model: string | null;
  /** The client key's name (never its value); null without client keys. */
  key: string | null;
  /** The status the client got; null when it left before the response was complete. */
  status: number | null;
  error: ErrorClass | null;
  tokens: TokenCounts;
  /** From the request's arrival to the delivered upstream response's head; null when none was delivered. */
  ttfbMs: number | null;
  totalMs: number;
}

/** The counts of one hour for one (provider, account, model, key). */
export interface UsageBucket {
  /** Epoch ms of the hour's start (UTC). */
  hour: number;
  provider: string | null;
  account: string | null;
  model: string | null;
  key: string | null;
  requests: number;
  /** Requests by the status the client got ('client_closed' when it left first). */
  statuses: Record<string, number>;
  errors: Partial<Record<ErrorClass, number>>;
  tokens: TokenCounts;
  /** Sums, so that averages can be taken over any grouping. */
  ttfb_ms_sum: number;
  ttfb_count: number;
  total_ms_sum: number;
}

export function hourOf(at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS;
}

export function bucketKey(b: Pick<UsageBucket, 'hour' | 'provider' | 'account' | 'model' | 'key'>): string {
  return `${b.hour}\u0000${b.provider ?? ''}\u0000${b.account ?? ''}\u0000${b.model ?? ''}\u0000${b.key ?? ''}`;
}

export function emptyBucket(id: Pick<UsageBucket, 'hour' | 'provider' | 'account' | 'model' | 'key'>): UsageBucket {
  return {
    hour: id.hour,
    provider: id.provider,
    account: id.account,
    model: id.model,
    key: id.key,
    requests: 0,
    statuses: {},
    errors: {},
    tokens: zeroTokens(),
    ttfb_ms_sum: 0,
    ttfb_count: 0,
    total_ms_sum: 0,
  };
}

/** Adds `from`'s counts into `into` (same identity or a coarser grouping of it). */
export function addBucket(into: UsageBucket, from: UsageBucket): void {
  into.requests += from.requests;
  for (const [status, n] of Object.entries(from.statuses)) into.statuses[status] = (into.statuses[status] ?? 0) + n;
  for (const [cls, n] of Object.entries(from.errors) as Array<[ErrorClass, number]>) into.errors[cls] = (into.errors[cls] ?? 0) + n;
  into.tokens.input += from.tokens.input;
  into.tokens.output += from.tokens.output;
  into.tokens.cache_creation += from.tokens.cache_creation;
  into.tokens.cache_read += from.tokens.cache_read;
  into.ttfb_ms_sum += from.ttfb_ms_sum;
  into.ttfb_count += from.ttfb_count;
  into.total_ms_sum += from.total_ms_sum;
}

/** Counts one request into its hour's bucket in `buckets`. */
export function countRequest(buckets: Map<string, UsageBucket>, req: FinishedRequest): void {
  const id = { hour: hourOf(req.at), provider: req.provider, account: req.account, model: req.model, key: req.key };
  const k = bucketKey(id);
  let bucket = buckets.get(k);
  if (!bucket) buckets.set(k, (bucket = emptyBucket(id)));
  bucket.requests++;
  const status = req.status === null ? 'client_closed' : String(req.status);
  bucket.statuses[status] = (bucket.statuses[status] ?? 0) + 1;
  if (req.error) bucket.errors[req.error] = (bucket.errors[req.error] ?? 0) + 1;
  bucket.tokens.input += req.tokens.input;
  bucket.tokens.output += req.tokens.output;
  bucket.tokens.cache_creation += req.tokens.cache_creation;
  bucket.tokens.cache_read += req.tokens.cache_read;
  if (req.ttfbMs !== null) {
    bucket.ttfb_ms_sum += req.ttfbMs;
    bucket.ttfb_count++;
  }
  bucket.total_ms_sum += req.totalMs;
}

/** Merges `from` into `into` bucket by bucket. */
export function mergeBuckets(into: Map<string, UsageBucket>, from: Iterable<UsageBucket>): void {
  for (const b of from) {
    const k = bucketKey(b);
    const mine = into.get(k);
    if (mine) addBucket(mine, b);
    else into.set(k, structuredClone(b));
  }
}

/** Drops the hours older than the retention. */
export function pruneBuckets(buckets: Map<string, UsageBucket>, now: number): void {
  const oldest = hourOf(now - RETENTION_MS);
  for (const [k, b] of buckets) if (b.hour < oldest) buckets.delete(k);
}

export const GROUP_BY = ['account', 'model', 'key', 'hour'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

/** A bucket of a query answer: only the grouped-by fields identify it. */
export interface UsageRow {
  hour?: string;
  provider?: string | null;
  account?: string | null;
  model?: string | null;
  key?: string | null;
  requests: number;
  statuses: Record<string, number>;
  errors: Partial<Record<ErrorClass, number>>;
  tokens: TokenCounts;
  ttfb_ms_avg: number | null;
  total_ms_avg: number | null;
}

/**
 * The buckets of the hours in [from, to), summed per group. "account" groups per account or,
 * for key providers, per provider (both fields are given). Rows are ordered by hour, then by
 * requests, most first.
 */
export function groupBuckets(buckets: Iterable<UsageBucket>, from: number, to: number, groupBy: readonly GroupBy[]): UsageRow[] {
  const by = new Set(groupBy);
  const groups = new Map<string, UsageBucket>();
  for (const b of buckets) {
    if (b.hour + HOUR_MS <= from || b.hour >= to) continue;
    const id = {
      hour: by.has('hour') ? b.hour : 0,
      provider: by.has('account') ? b.provider : null,
      account: by.has('account') ? b.account : null,
      model: by.has('model') ? b.model : null,
      key: by.has('key') ? b.key : null,
    };
    const k = bucketKey(id);
    let group = groups.get(k);
    if (!group) groups.set(k, (group = emptyBucket(id)));
    addBucket(group, b);
  }
  const rows = [...groups.values()].sort((a, b) => a.hour - b.hour || b.requests - a.requests);
  return rows.map((g) => ({
    ...(by.has('hour') ? { hour: new Date(g.hour).toISOString() } : {}),
    ...(by.has('account') ? { provider: g.provider, account: g.account } : {}),
    ...(by.has('model') ? { model: g.model } : {}),
    ...(by.has('key') ? { key: g.key } : {}),
    requests: g.requests,
    statuses: g.statuses,
    errors: g.errors,
    tokens: g.tokens,
    ttfb_ms_avg: g.ttfb_count ? Math.round((g.ttfb_ms_sum / g.ttfb_count) * 10) / 10 : null,
    total_ms_avg: g.requests ? Math.round((g.total_ms_sum / g.requests) * 10) / 10 : null,
  }));
}
