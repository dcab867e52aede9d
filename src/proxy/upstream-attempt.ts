import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errors, type Dispatcher } from 'undici';
import { sseErrorEvent } from '../anthropic/errors.js';
import { describeNetworkError } from './network-errors.js';
import type { UsageTap } from '../usage/usage-tap.js';

/** The status line and headers of an upstream response. */
export interface UpstreamHead {
  statusCode: number;
  headers: IncomingHttpHeaders;
}

export interface PumpResult {
  bytes: number;
  /** Why the upstream body failed after the response had started, if it did. */
  error?: Error;
}

/** What `collect()` holds: the body, or its first `limit` bytes when it is longer (the rest can still be piped). */
export interface CollectedBody {
  bytes: Buffer;
  complete: boolean;
}

/** Body bytes held while the response's fate is decided; past this the upstream is paused. */
const HOLD_LIMIT = 64 * 1024;

const enum Mode {
  /** Headers are in; the body is buffered until the caller decides what to do with it. */
  Hold,
  /** An error body, read whole (or its first bytes, then paused) to judge it and maybe send it on. */
  Collect,
  /** Relayed to the client as it arrives. */
  Pipe,
  /** Not wanted: the request is aborted. */
  Discard,
}

type Controller = Dispatcher.DispatchController;

/**
 * One upstream request, driven through undici's dispatch API. Compared with `request()` this
 * needs no response stream, async iterator or AbortSignal per request: body chunks go straight
 * from the parser to the client response, with backpressure by pausing the upstream socket.
 *
 * Usage: dispatch it, await `head`, then either `collect()` the (error) body, `pipe()` it to the
 * client, or `discard()` it. `abort()` ends it at any point (the client went away).
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  /** Resolves with the response head, or with the error that ended the request before it. */
  readonly head: Promise<UpstreamHead | Error>;
  private settleHead: ((head: UpstreamHead | Error) => void) | null = null;
  private controller: Controller | null = null;
  private mode = Mode.Hold;
  private chunks: Buffer[] = [];
  private held = 0;
  private ended = false;
  private error: Error | null = null;
  private abortReason: Error | null = null;
  private settleCollect: ((body: CollectedBody | Error) => void) | null = null;
  private collectLimit = 0;
  private settleFirstByte: ((error: Error | undefined) => void) | null = null;
  // Pipe mode
  private res: ServerResponse | null = null;
  private isSse = false;
  private tap: UsageTap | null = null;
  private bytes = 0;
  private endsAtEventBoundary = true;
  private waitingDrain = false;
  private drained: (() => void) | null = null;
  /** Drops a client that has read nothing for clientIdleMs while a write waits for it. */
  private clientStall: NodeJS.Timeout | null = null;
  private settlePipe: ((result: PumpResult) => void) | null = null;

  constructor(private readonly clientIdleMs = 0) {
    this.head = new Promise((resolve) => {
      this.settleHead = resolve;
    });
  }

  // ---- undici's side ---------------------------------------------------------------------------

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: informational, the real head follows
    const settle = this.settleHead;
    this.settleHead = null;
    settle?.({ statusCode, headers });
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    switch (this.mode) {
      case Mode.Pipe:
        this.write(chunk);
        return;
      case Mode.Hold:
        this.chunks.push(chunk);
        this.held += chunk.length;
        if (this.held > HOLD_LIMIT) controller.pause();
        this.firstByteCame();
        return;
      case Mode.Collect:
        this.chunks.push(chunk);
        this.held += chunk.length;
        if (this.held >= this.collectLimit) {
          controller.pause();
          this.finishCollect();
        }
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    this.firstByteCame();
    if (this.mode === Mode.Collect) this.finishCollect();
    else if (this.mode === Mode.Pipe) this.finishPipe();
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    if (this.error || this.ended) return;
    this.error = err;
    const settle = this.settleHead;
    if (settle) {
      this.settleHead = null;
      settle(err);
      return;
    }
    this.firstByteCame();
    if (this.mode === Mode.Collect) this.finishCollect();
    else if (this.mode === Mode.Pipe) this.failPipe(err);
  }

  // ---- the forwarder's side --------------------------------------------------------------------

  /** Ends the request (the client went away); safe to call at any time. */
  abort(): void {
    if (this.ended || this.error || this.abortReason) return;
    this.abortReason = new errors.RequestAbortedError();
    this.controller?.abort(this.abortReason);
  }

  /** Drops the response (another provider or credential will be tried). */
  discard(): void {
    this.mode = Mode.Discard;
    this.chunks = [];
    this.abort();
  }

  /**
   * The body's bytes as sent, whole, or its first `limit` bytes (or a little more) with the
   * upstream paused, so `pipe()` can still send the whole body on. Rejects if the upstream fails.
   */
  collect(limit: number): Promise<CollectedBody> {
    this.mode = Mode.Collect;
    this.collectLimit = limit;
    const pending = new Promise<CollectedBody | Error>((resolve) => {
      this.settleCollect = resolve;
    });
    if (this.ended || this.error || this.held >= limit) this.finishCollect();
    else this.controller?.resume();
    return pending.then((value) => (value instanceof Error ? Promise.reject(value) : value));
  }

  /**
   * Resolves once the first body byte (or the end) has come: with undefined, or with the error
   * that ended the body before any byte. Until then nothing has gone to the client, so a stalled
   * or failed upstream can still be failed over or answered cleanly.
   */
  firstByte(): Promise<Error | undefined> {
    if (this.chunks.length > 0 || this.ended) return Promise.resolve(undefined);
    if (this.error) return Promise.resolve(this.error);
    return new Promise((resolve) => {
      this.settleFirstByte = resolve;
    });
  }

  /**
   * Relays the body to the client as it arrives (showing each chunk to the usage tap on the way), honouring backpressure so a slow client never
   * makes the service hold a whole stream. If the upstream fails mid-body, an SSE client gets an
   * `event: error` and a clean end; anything else is cut, as its body cannot be mended.
   */
  pipe(res: ServerResponse, isSse: boolean, tap: UsageTap | null = null): Promise<PumpResult> {
    this.mode = Mode.Pipe;
    this.res = res;
    this.isSse = isSse;
    this.tap = tap;
    const pending = new Promise<PumpResult>((resolve) => {
      this.settlePipe = resolve;
    });
    const held = this.chunks;
    this.chunks = [];
    this.held = 0;
    for (let i = 0; i < held.length && this.mode === Mode.Pipe; i++) this.write(held[i]);
    if (this.mode !== Mode.Pipe) return pending;
    if (this.error) this.failPipe(this.error);
    else if (this.ended) this.finishPipe();
    else if (!this.waitingDrain) this.controller?.resume();
    return pending;
  }

  // ---- internals --------------------------------------------------------------------------------

  private firstByteCame(): void {
    const settle = this.settleFirstByte;
    this.settleFirstByte = null;
    settle?.(this.chunks.length > 0 || this.ended ? undefined : (this.error ?? undefined));
  }

  private finishCollect(): void {
    const settle = this.settleCollect;
    if (!settle) return;
    this.settleCollect = null;
    if (this.error) {
      settle(this.error);
      return;
    }
    // The chunks stay held: pipe() sends them first if the body goes to the client after all.
    const chunks = this.chunks;
    settle({ bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), complete: this.ended });
  }

  private write(chunk: Buffer): void {
    const res = this.res!;
    this.bytes += chunk.length;
    this.tap?.feed(chunk);
    if (this.isSse) {
      this.endsAtEventBoundary = chunk.length >= 2 && chunk[chunk.length - 1] === 10 && chunk[chunk.length - 2] === 10;
    }
    if (!res.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.controller?.pause();
      res.once('drain', (this.drained ??= () => this.onDrain()));
      // The client's close ends the upstream request (the forwarder's ClientLink).
      if (this.clientIdleMs > 0) this.clientStall = setTimeout(() => res.destroy(), this.clientIdleMs);
    }
    if (res.destroyed) {
      // The client is gone: stop reading the upstream.
      this.mode = Mode.Discard;
      this.abort();
      this.settle({ bytes: this.bytes });
    }
  }

  private onDrain(): void {
    this.waitingDrain = false;
    if (this.clientStall) clearTimeout(this.clientStall);
    this.clientStall = null;
    if (this.mode === Mode.Pipe && !this.ended && !this.error) this.controller?.resume();
  }

  private finishPipe(): void {
    this.res!.end();
    this.settle({ bytes: this.bytes });
  }

  private failPipe(error: Error): void {
    const res = this.res!;
    this.mode = Mode.Discard;
    if (!res.destroyed) {
      if (this.isSse) {
        const event = sseErrorEvent('api_error', `The upstream stream failed: ${describeNetworkError(error)}`);
        res.end(this.endsAtEventBoundary ? event : `\n\n${event}`);
      } else {
        res.destroy(error);
      }
    }
    this.settle({ bytes: this.bytes, error });
  }

  private settle(result: PumpResult): void {
    if (this.clientStall) clearTimeout(this.clientStall);
    this.clientStall = null;
    const settle = this.settlePipe;
    this.settlePipe = null;
    settle?.(result);
  }
}
