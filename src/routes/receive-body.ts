import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { AnthropicErrorType } from '../anthropic/errors.js';
import type { BodyBuffers } from './body-buffers.js';
import type { InflightBodies } from './inflight-bodies.js';

/** A request body as received: forwarded byte for byte, never parsed to be forwarded. */
export interface ParsedBody {
  raw: Buffer;
  /** Sent with a JSON content type (checked to start with `{`). */
  isJson: boolean;
}

/** A body the service will not take, with the answer that says why. */
export class BodyRefusedError extends Error {
  constructor(
    readonly statusCode: number,
    readonly type: AnthropicErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** How long a client refused for memory is asked to wait. */
const OVERLOADED_RETRY_AFTER_S = '1';

type Done = (err: Error | null, body?: ParsedBody) => void;

// A body over the size limit could be of any length: the connection is closed rather than read to
// its end. Other refusals keep it open (fastify closes after any parser error; app.ts undoes that
// for them): Node reads what is left of the body and drops it (at most max_body_bytes, never held),
// so the client is sure to get the answer, which a close with unread bytes (a TCP reset) can
// destroy before the client has read it.
const CLOSE = { connection: 'close' };

function tooLarge(limit: number): BodyRefusedError {
  return new BodyRefusedError(413, 'request_too_large', `The request body is larger than this route takes (${limit} bytes; max_body_bytes for /v1).`, CLOSE);
}

function overloaded(): BodyRefusedError {
  return new BodyRefusedError(
    529,
    'overloaded_error',
    'The balancer is holding as many request bytes as settings.max_inflight_body_bytes allows; retry shortly.',
    { 'retry-after': OVERLOADED_RETRY_AFTER_S },
  );
}

const NOT_AN_OBJECT = 'The request body must be a JSON object (it must start with "{").';

/** The first byte that is not JSON whitespace, or -1 when all of `chunk` is whitespace. */
function firstNonSpace(chunk: Buffer): number {
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i];
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  }
  return -1;
}

/**
 * Reads the body into one buffer (of the Content-Length when given: one copy, no concatenation),
 * refusing it as soon as it is too large, would pass the in-flight cap, or (JSON) is no object.
 */
export function receiveBody(
  request: FastifyRequest,
  payload: IncomingMessage,
  json: boolean,
  inflight: InflightBodies,
  buffers: BodyBuffers,
  done: Done,
): void {
  // A client gone before its body was looked at: its response has closed, so nothing would be given back.
  if (request.raw.socket?.destroyed) return done(new Error('the client went away'));
  // settings.max_body_bytes (the app's bodyLimit), or a route's own smaller one.
  const limit = request.routeOptions.bodyLimit;
  const header = request.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) return refuse(tooLarge(limit));
  if (declared) {
    if (!inflight.take(declared, declared)) return refuse(overloaded());
    request.heldBodyBytes += declared;
  }

  let whole: Buffer | undefined;
  if (declared) {
    const buffer = buffers.take(declared);
    request.pooledBody = buffer;
    whole = buffer.length === declared ? buffer : buffer.subarray(0, declared);
  }
  const chunks: Buffer[] = [];
  let received = 0;
  let checked = !json;
  let finished = false;

  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);

  function onData(chunk: Buffer): void {
    if (finished) return;
    if (!checked) {
      const first = firstNonSpace(chunk);
      if (first === 0x7b) checked = true;
      else if (first !== -1) return fail(new BodyRefusedError(400, 'invalid_request_error', NOT_AN_OBJECT));
    }
    const size = received + chunk.length;
    if (size > limit) return fail(tooLarge(limit));
    if (whole) {
      // Node's parser never delivers more than the Content-Length.
      chunk.copy(whole, received);
    } else {
      if (!inflight.take(chunk.length, size)) return fail(overloaded());
      request.heldBodyBytes += chunk.length;
      chunks.push(chunk);
    }
    received = size;
  }

  function onEnd(): void {
    if (finished) return;
    finished = true;
    detach();
    if (!checked && received > 0) return done(new BodyRefusedError(400, 'invalid_request_error', NOT_AN_OBJECT));
    if (!whole) whole = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received);
    else if (received !== declared) whole = whole.subarray(0, received);
    done(null, { raw: whole, isJson: json });
  }

  function onError(err: Error): void {
    fail(err);
  }

  function fail(err: Error): void {
    if (finished) return;
    finished = true;
    detach();
    whole = undefined;
    chunks.length = 0;
    done(err);
  }

  function detach(): void {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
  }

  function refuse(err: BodyRefusedError): void {
    done(err);
  }
}
