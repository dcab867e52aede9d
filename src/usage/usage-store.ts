import { z } from 'zod';
import type { Logger } from '../logging/logger.js';
import type { Clock } from '../oauth/clock.js';
import { updateDocument, type TokenStore } from '../store/token-store.js';
import {
  countRequest,
  groupBuckets,
  mergeBuckets,
  pruneBuckets,
  type FinishedRequest,
  type GroupBy,
  type UsageBucket,
  type UsageRow,
} from './usage-buckets.js';

/** Lifetime counter names in the usage document (read back by the metrics). */
export const counterName = {
  requests: (provider: string, account: string, status: string) => JSON.stringify(['requests', provider, account, status]),
  tokens: (provider: string, account: string, model: string, type: string) => JSON.stringify(['tokens', provider, account, model, type]),
  refreshes: (account: string, outcome: string) => JSON.stringify(['refreshes', account, outcome]),
};

const TOKEN_TYPES = ['input', 'output', 'cache_creation', 'cache_read'] as const;

/**
 * Adds the requests (by status) and tokens (by type) of `buckets`, and the `extra` counters, to
 * `into`: counting per bucket when read or written keeps the per-request path to one bucket.
 */
function addCounters(into: Map<string, number>, buckets: Iterable<UsageBucket>, extra: Map<string, number>): void {
  const add = (name: string, n: number) => into.set(name, (into.get(name) ?? 0) + n);
  for (const b of buckets) {
    const provider = b.provider ?? '';
    const account = b.account ?? '';
    for (const [status, n] of Object.entries(b.statuses)) add(counterName.requests(provider, account, status), n);
    for (const type of TOKEN_TYPES) if (b.tokens[type] > 0) add(counterName.tokens(provider, account, b.model ?? '', type), b.tokens[type]);
  }
  for (const [name, n] of extra) add(name, n);
}

/** The token store document the usage is kept in. */
export const USAGE_DOCUMENT = 'usage';
/** At most one write of the usage document per this long. */
export const USAGE_WRITE_INTERVAL_MS = 30_000;

const nullableString = z.string().nullable();
const count = z.number().nonnegative();
const bucketSchema = z.object({
  hour: z.number().int(),
  provider: nullableString,
  account: nullableString,
  model: nullableString,
  key: nullableString,
  requests: count,
  statuses: z.record(z.string(), count),
  errors: z.record(z.string(), count),
  tokens: z.object({ input: count, output: count, cache_creation: count, cache_read: count }),
  ttfb_ms_sum: count,
  ttfb_count: count,
  total_ms_sum: count,
});
const documentSchema = z.object({
  version: z.literal(1),
  buckets: z.array(bucketSchema),
  /** Lifetime counters (never pruned) that /metrics is seeded from, by a name the metrics module makes. */
  counters: z.record(z.string(), count),
});
type UsageDocument = z.infer<typeof documentSchema>;

/**
 * The hourly usage buckets of the last 30 days and the lifetime counters, kept in memory and
 * persisted as one document of the token store (so wherever the accounts are: file, keyring,
 * Redis), at most once per USAGE_WRITE_INTERVAL_MS and at close.
 *
 * What is persisted is added, not replaced: a write reads the document, adds what this process
 * counted since its last write and saves the sum, as one read-modify-write of the store (a
 * compare-and-set on Redis), so instances sharing a store count into one document and two writes
 * racing never lose either side's counts.
 */
export class UsageStore {
  /** As of the last load or write. */
  private base = new Map<string, UsageBucket>();
  private baseCounters = new Map<string, number>();
  /** Counted since then. */
  private pending = new Map<string, UsageBucket>();
  private pendingCounters = new Map<string, number>();
  private timer: unknown = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    const doc = await this.read();
    this.base = new Map();
    mergeBuckets(this.base, doc.buckets);
    pruneBuckets(this.base, this.clock.now());
    this.baseCounters = new Map(Object.entries(doc.counters));
  }

  /** Counts a finished request (its lifetime counters are derived from the buckets when read or written). */
  record(req: FinishedRequest): void {
    countRequest(this.pending, req);
    this.schedule();
  }

  addCounter(name: string, by: number): void {
    if (by === 0) return;
    this.pendingCounters.set(name, (this.pendingCounters.get(name) ?? 0) + by);
    this.schedule();
  }

  /** Every lifetime counter: persisted plus not yet persisted. */
  counters(): Map<string, number> {
    const all = new Map(this.baseCounters);
    addCounters(all, this.pending.values(), this.pendingCounters);
    return all;
  }

  /** The usage of the hours overlapping [from, to), grouped. */
  query(from: number, to: number, groupBy: readonly GroupBy[]): UsageRow[] {
    return groupBuckets([...this.base.values(), ...this.pending.values()], from, to, groupBy);
  }

  /** Writes what is pending now (shutdown); later records are no longer scheduled. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Writes what is pending (after any write in progress). */
  flush(): Promise<void> {
    const run = this.writing.then(() => this.write());
    this.writing = run.catch(() => undefined);
    return run;
  }

  private schedule(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.flush().catch((err: unknown) => {
        this.log.warn({ store: this.store.location, err: String(err) }, 'usage statistics not saved; retrying in 30 s');
        this.schedule();
      });
    }, USAGE_WRITE_INTERVAL_MS);
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0 && this.pendingCounters.size === 0) return;
    const pending = this.pending;
    const pendingCounters = this.pendingCounters;
    this.pending = new Map();
    this.pendingCounters = new Map();
    try {
      let buckets = new Map<string, UsageBucket>();
      let counters = new Map<string, number>();
      // Run again on each retry of a shared store's compare-and-set, so it builds from scratch.
      const addPending = (current: unknown): UsageDocument => {
        const doc = this.parse(current);
        buckets = new Map();
        mergeBuckets(buckets, doc.buckets);
        mergeBuckets(buckets, pending.values());
        pruneBuckets(buckets, this.clock.now());
        counters = new Map(Object.entries(doc.counters));
        addCounters(counters, pending.values(), pendingCounters);
        return { version: 1, buckets: [...buckets.values()], counters: Object.fromEntries(counters) };
      };
      await updateDocument(this.store, USAGE_DOCUMENT, addPending);
      this.base = buckets;
      this.baseCounters = counters;
    } catch (err) {
      // Not lost: counted again into the next write.
      mergeBuckets(pending, this.pending.values());
      for (const [name, n] of this.pendingCounters) pendingCounters.set(name, (pendingCounters.get(name) ?? 0) + n);
      this.pending = pending;
      this.pendingCounters = pendingCounters;
      throw err;
    }
  }

  private async read(): Promise<UsageDocument> {
    return this.parse(await this.store.loadDocument(USAGE_DOCUMENT));
  }

  private parse(raw: unknown): UsageDocument {
    if (raw === undefined) return { version: 1, buckets: [], counters: {} };
    const parsed = documentSchema.safeParse(raw);
    if (parsed.success) return parsed.data as UsageDocument;
    this.log.warn(
      { store: this.store.location, document: USAGE_DOCUMENT, problem: parsed.error.issues[0]?.message },
      'the stored usage statistics are unreadable; counting starts again from zero',
    );
    return { version: 1, buckets: [], counters: {} };
  }
}
