import zlib from 'node:zlib';

/** How much of an upstream error body is held to judge it; a longer body is streamed on, never cut. */
export const JUDGED_PREFIX_BYTES = 64 * 1024;

/** Decoded text is for judging only: this much is plenty for Anthropic's error JSON. */
const MAX_JUDGED_TEXT = 256 * 1024;

function inflate(bytes: Buffer, encoding: string): Buffer {
  // A prefix of a compressed stream is fine: flush what decodes, ignore the missing end.
  const options = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_JUDGED_TEXT };
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(bytes, options);
    case 'deflate':
      return zlib.inflateSync(bytes, options);
    case 'br':
      return zlib.brotliDecompressSync(bytes, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH, maxOutputLength: MAX_JUDGED_TEXT });
    default:
      throw new Error(`unknown content-encoding ${encoding}`);
  }
}

/**
 * The text of (a prefix of) an upstream error body, decoded only to judge it (refused credential,
 * banned organization): the bytes the client gets are never this. Encodings it cannot read give ''.
 */
export function judgedText(bytes: Buffer, contentEncoding: string | string[] | undefined): string {
  const encodings = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? ''))
    .toLowerCase()
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e && e !== 'identity');
  let body = bytes;
  try {
    for (let i = encodings.length - 1; i >= 0; i--) body = inflate(body, encodings[i]);
  } catch {
    return '';
  }
  return body.subarray(0, MAX_JUDGED_TEXT).toString('utf8');
}
