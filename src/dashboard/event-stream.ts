import type { ServerResponse } from 'node:http';
import type { ActivityEntry } from '../activity/activity-feed.js';
import type { PoolEvent } from '../oauth/pool-events.js';

/** Streams open at once; a further browser tab is told to try again later. */
export const MAX_STREAMS = 32;
/** A client this far behind is dropped (its browser reconnects and reloads the state). */
const MAX_BUFFERED_BYTES = 256 * 1024;
const HEARTBEAT_MS = 20_000;

export type Subscribe<T> = (listener: (event: T) => void) => () => void;

function poolFields(e: PoolEvent) {
  return { type: e.type, account: e.account, provider: e.provider, reason: e.reason, until: e.until, at: e.at };
}

function activityFields(e: ActivityEntry): ActivityEntry {
  const { at, provider, account, model, key, status, ms, ttfb_ms, tokens } = e;
  const t = tokens && { input: tokens.input, output: tokens.output, cache_creation: tokens.cache_creation, cache_read: tokens.cache_read };
  return { at, provider, account, model, key, status, ms, ttfb_ms, tokens: t };
}

/**
 * The dashboard's server-sent events: `pool` (an account changed: the page reloads its rows)
 * and `activity` (a request finished). Fields are copied one by one, so nothing an event source
 * adds later can reach a browser unnoticed.
 */
export class DashboardEvents {
  private readonly clients = new Set<ServerResponse>();
  private readonly unsubscribe: Array<() => void> = [];
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly sources: { pool: Subscribe<PoolEvent>; activity: Subscribe<ActivityEntry> }) {}

  get open(): number {
    return this.clients.size;
  }

  /** Takes over a response as an event stream; false when too many are open. */
  attach(res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.clients.size >= MAX_STREAMS) return false;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopListening();
    });
    // The sources are listened to only while a page is open: with none, requests pay nothing.
    if (this.unsubscribe.length === 0) {
      this.unsubscribe.push(
        this.sources.pool((e) => this.broadcast('pool', poolFields(e))),
        this.sources.activity((e) => this.broadcast('activity', activityFields(e))),
      );
    }
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.send(': ping\n\n'), HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    return true;
  }

  /** At shutdown: the streams end, so the server can close. */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopListening();
  }

  private stopListening(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private broadcast(event: string, data: unknown): void {
    this.send(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private send(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
      else res.write(text);
    }
  }
}
