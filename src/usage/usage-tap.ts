import type { IncomingHttpHeaders } from 'node:http';

/** The token counts Anthropic reports in a response's `usage`. */
export interface TokenCounts {
  input: number;
  output: number;
  cache_creation: number;
  cache_read: number;
}

export function zeroTokens(): TokenCounts {
  return { input: 0, output: 0, cache_creation: 0, cache_read: 0 };
}

/** What a tap read from one response body. */
export interface TappedUsage {
  /** The model the response names (message_start.message.model, or the JSON body's model). */
  model?: string;
  tokens: TokenCounts;
  /** An SSE `event: error` passed through (overloaded mid-stream and the like). */
  streamError: boolean;
}

/** Sees the body bytes as they are relayed; never changes or holds them. */
export interface UsageTap {
  feed(chunk: Buffer): void;
  result(): TappedUsage;
}

/** The longest SSE line the tap keeps to read (message_start / message_delta are far smaller); longer ones are skipped. */
const MAX_SSE_LINE = 64 * 1024;
/** JSON bodies up to this size are parsed whole; past it only the tail (where `usage` sits) is kept. */
const MAX_JSON_BODY = 1024 * 1024;
const JSON_TAIL = 16 * 1024;
const NEWLINE = 10;
const CR = 13;

const EVENT_FIELD = Buffer.from('event:');

function startsWithEvent(chunk: Buffer, at: number): boolean {
  for (let i = 0; i < 6; i++) if (chunk[at + i] !== EVENT_FIELD[i]) return false;
  return true;
}

/** The tap for a relayed response: SSE or JSON; none for other bodies. */
export function usageTapFor(headers: IncomingHttpHeaders, isSse: boolean): UsageTap | null {
  if (isSse) return new SseUsageTap();
  const type = headers['content-type'];
  if (typeof type === 'string' && type.toLowerCase().includes('json')) return new JsonUsageTap();
  return null;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Anthropic's usage fields into ours. message_delta's usage is cumulative, so a field it carries
 * replaces what message_start said; fields it leaves out keep their value.
 */
function applyUsage(tokens: TokenCounts, usage: unknown): void {
  if (!usage || typeof usage !== 'object') return;
  const u = usage as Record<string, unknown>;
  tokens.input = count(u.input_tokens) ?? tokens.input;
  tokens.output = count(u.output_tokens) ?? tokens.output;
  tokens.cache_creation = count(u.cache_creation_input_tokens) ?? tokens.cache_creation;
  tokens.cache_read = count(u.cache_read_input_tokens) ?? tokens.cache_read;
}

/**
 * Reads `usage` from an SSE stream line by line as it passes. Only the data lines of
 * message_start, message_delta and error events (or of events without an `event:` line) are
 * kept and parsed; every other line is skipped without being copied, and no line is kept past
 * MAX_SSE_LINE, so memory stays bounded whatever the stream carries.
 */
export class SseUsageTap implements UsageTap {
  private readonly tokens = zeroTokens();
  private model: string | undefined;
  private streamError = false;
  /** The current event's name; '' before its `event:` line. */
  private event = '';
  /** The current line's bytes so far, when it is worth keeping. */
  private line: Buffer[] = [];
  private lineLength = 0;
  /** The current line is being skipped (uninteresting, or too long). */
  private skipping = false;
  /** At the start of a line. */
  private atLineStart = true;

  feed(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      if (this.atLineStart) {
        this.atLineStart = false;
        this.skipping = this.skipsLine(chunk[start]);
      }
      const end = chunk.indexOf(NEWLINE, start);
      const stop = end === -1 ? chunk.length : end;
      if (end !== -1 && this.lineLength === 0 && !this.skipping && chunk[start] === 0x65 /* e */) {
        // A whole `event:` line in this chunk (the usual case): named without a copy.
        this.readEventName(chunk, start, stop);
        this.atLineStart = true;
        start = end + 1;
        continue;
      }
      if (!this.skipping && stop > start) {
        this.lineLength += stop - start;
        if (this.lineLength > MAX_SSE_LINE) {
          this.skipping = true;
          this.line = [];
        } else this.line.push(chunk.subarray(start, stop));
      }
      if (end === -1) return;
      this.endLine();
      start = end + 1;
    }
  }

  result(): TappedUsage {
    return { model: this.model, tokens: { ...this.tokens }, streamError: this.streamError };
  }

  /**
   * Decided on a line's first byte: 'e'vent lines and blank lines are always read; the data lines
   * of events that carry no usage are not.
   */
  private skipsLine(first: number): boolean {
    if (first === NEWLINE || first === CR || first === 0x65 /* e */) return false;
    return !(this.event === '' || this.event === 'message_start' || this.event === 'message_delta' || this.event === 'error');
  }

  private readEventName(chunk: Buffer, start: number, stop: number): void {
    if (chunk[stop - 1] === CR) stop--;
    if (stop - start < 6 || !startsWithEvent(chunk, start)) return;
    let from = start + 6;
    if (chunk[from] === 0x20) from++;
    const length = stop - from;
    // Only the names the tap reads are decoded; the others just need to be told apart from them.
    if (length === 13 || length === 5) this.setEvent(chunk.toString('latin1', from, stop));
    else this.event = 'other';
  }

  private setEvent(name: string): void {
    this.event = name;
    if (name === 'error') this.streamError = true;
  }

  private endLine(): void {
    const parts = this.line;
    const skipped = this.skipping;
    const empty = this.lineLength === 0;
    this.line = [];
    this.lineLength = 0;
    this.atLineStart = true;
    this.skipping = false;
    if (empty && !skipped) {
      this.event = '';
      return;
    }
    if (skipped) return;
    let text = (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text === '') {
      this.event = '';
      return;
    }
    if (text.startsWith('event:')) {
      this.setEvent(text.slice(6).trim());
      return;
    }
    if (text.startsWith('data:')) this.readData(text.slice(5));
  }

  private readData(data: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (!payload || typeof payload !== 'object') return;
    const p = payload as Record<string, unknown>;
    if (p.type === 'message_start' && p.message && typeof p.message === 'object') {
      const message = p.message as Record<string, unknown>;
      if (typeof message.model === 'string') this.model = message.model;
      applyUsage(this.tokens, message.usage);
    } else if (p.type === 'message_delta') {
      applyUsage(this.tokens, p.usage);
    } else if (p.type === 'error') {
      this.streamError = true;
    }
  }
}

/**
 * Reads `usage` and `model` from a JSON body. Bodies up to MAX_JSON_BODY are kept and parsed at
 * the end; a longer one keeps only its first chunk (for the model) and its last JSON_TAIL bytes,
 * where a message's usage object sits.
 */
export class JsonUsageTap implements UsageTap {
  private chunks: Buffer[] = [];
  private length = 0;
  private head: Buffer | null = null;

  feed(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    if (this.head === null) {
      if (this.length <= MAX_JSON_BODY) return;
      this.head = this.chunks[0];
    }
    // Keep only the tail: drop leading chunks while what remains still covers JSON_TAIL.
    while (this.chunks.length > 1 && this.length - this.chunks[0].length >= JSON_TAIL) {
      this.length -= this.chunks[0].length;
      this.chunks.shift();
    }
  }

  result(): TappedUsage {
    const tokens = zeroTokens();
    const text = (this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)).toString('utf8');
    if (this.head === null) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { tokens, streamError: false };
      }
      const b = (body ?? {}) as Record<string, unknown>;
      applyUsage(tokens, b.usage);
      return { model: typeof b.model === 'string' ? b.model : undefined, tokens, streamError: false };
    }
    applyUsage(tokens, lastUsageObject(text));
    const model = /"model"\s*:\s*"([^"\\]{1,200})"/.exec(this.head.toString('utf8', 0, Math.min(this.head.length, 4096)))?.[1];
    return { model, tokens, streamError: false };
  }
}

/** The object after the last `"usage":` in a piece of JSON, found by matching its braces. */
function lastUsageObject(text: string): unknown {
  const at = text.lastIndexOf('"usage"');
  if (at === -1) return undefined;
  const open = text.indexOf('{', at);
  if (open === -1) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        return JSON.parse(text.slice(open, i + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
