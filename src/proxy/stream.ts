import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { sseErrorEvent } from './anthropic-errors.js';

/** Resolves when the response can take more data, or when the client has gone. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export interface PumpResult {
  bytes: number;
  /** Why the upstream body failed after the response had started, if it did. */
  error?: Error;
}

/**
 * Copies an upstream body to the client as it arrives, honouring backpressure so a slow client
 * never makes the service hold a whole stream. If the upstream fails mid-body, an SSE client gets
 * an `event: error` and a clean end; anything else is cut, as its body cannot be mended.
 */
export async function pumpBody(body: Readable, res: ServerResponse, isSse: boolean): Promise<PumpResult> {
  let bytes = 0;
  let endsAtEventBoundary = true;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (isSse) endsAtEventBoundary = chunk.length >= 2 && chunk[chunk.length - 1] === 10 && chunk[chunk.length - 2] === 10;
      if (!res.write(chunk)) await writable(res);
      if (res.destroyed) {
        body.destroy();
        return { bytes };
      }
    }
    res.end();
    return { bytes };
  } catch (err) {
    const error = err as Error;
    if (res.destroyed) return { bytes, error };
    if (isSse) {
      const event = sseErrorEvent('api_error', `The upstream stream failed: ${describeNetworkError(error)}`);
      res.end(endsAtEventBoundary ? event : `\n\n${event}`);
    } else {
      res.destroy(error);
    }
    return { bytes, error };
  }
}

/** A short reason for logs and error messages, from undici's and Node's error codes. */
export function describeNetworkError(err: Error): string {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timed out waiting for response headers';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'the stream was idle too long';
    case 'UND_ERR_SOCKET':
      return 'connection closed by the upstream';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
      return 'host not found';
    default: {
      const cause = (err as { cause?: Error }).cause;
      if (cause && cause !== err) return describeNetworkError(cause);
      return code ? `${code}: ${err.message}` : err.message;
    }
  }
}
