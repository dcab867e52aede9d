/**
 * Finds the top-level `metadata.user_id` string of a JSON request body without parsing the body.
 *
 * Bodies are forwarded as bytes and can be 32 MiB of anything (a nesting bomb, say), so this is a
 * single forward pass with constant memory: string contents are skipped with Buffer.indexOf
 * (native), and at most MAX_STRUCTURE_BYTES of structure (bytes outside strings) are looked at
 * before it gives up. Only depth 1 (the body) and depth 2 (the metadata object) are interpreted;
 * anything deeper is only counted, so a `metadata.user_id` inside a message or a tool input is
 * never taken for the top-level one.
 *
 * Undefined unless the answer is certain: no such field, a body that is not a JSON object, a
 * scan that ran out of budget, or an ambiguous body (two top-level `metadata` keys, two `user_id`
 * keys in it: parsers disagree on which one wins, so neither is believed).
 */

export const MAX_STRUCTURE_BYTES = 1024 * 1024;
/** A user_id longer than this is not a Claude client's (theirs are a few hundred bytes). */
export const MAX_USER_ID_BYTES = 8 * 1024;
/** A key longer than this cannot spell "metadata" or "user_id", even fully \u-escaped. */
const MAX_KEY_BYTES = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

const METADATA = Buffer.from('metadata');
const USER_ID = Buffer.from('user_id');

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** What is left of a scan's budget; escaped quotes and backslashes inside strings are paid from it too. */
interface Budget {
  left: number;
}

/** Index of the quote that closes the string opened at `open`, or -1 (unterminated, or out of budget). */
function stringEnd(buf: Buffer, open: number, budget: Budget): number {
  let at = buf.indexOf(QUOTE, open + 1);
  while (at !== -1) {
    let slashes = 0;
    while (buf[at - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
    budget.left -= slashes + 1;
    if (budget.left < 0) return -1;
    at = buf.indexOf(QUOTE, at + 1);
  }
  return -1;
}

/** Whether the string token buf[open..close] (quotes included) decodes to `name`. */
function keyIs(buf: Buffer, open: number, close: number, name: Buffer): boolean {
  const length = close - open - 1;
  if (length === name.length && buf.compare(name, 0, name.length, open + 1, close) === 0) return true;
  if (length <= name.length || length > MAX_KEY_BYTES || buf.indexOf(BACKSLASH, open + 1) >= close) return false;
  try {
    return JSON.parse(buf.toString('utf8', open, close + 1)) === name.toString();
  } catch {
    return false;
  }
}

/** The decoded string token buf[open..close], or undefined when it is not one. */
function decodeString(buf: Buffer, open: number, close: number): string | undefined {
  try {
    const value: unknown = JSON.parse(buf.toString('utf8', open, close + 1));
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export function metadataUserId(buf: Buffer): string | undefined {
  // Fast path for most bodies: without "user_id" spelled out and without \u escapes there is none.
  if (buf.indexOf('user_id') === -1 && buf.indexOf('\\u') === -1) return undefined;

  let i = 0;
  while (i < buf.length && isSpace(buf[i])) i++;
  if (buf[i] !== OPEN_OBJECT) return undefined;

  const budget: Budget = { left: MAX_STRUCTURE_BYTES };
  let depth = 0;
  // Whether the container at depth 1 / 2 is an object (else an array); deeper ones are not interpreted.
  let depth2IsObject = false;
  let expectKey = false;
  // The key just read at depth 1 or 2, waiting for its value.
  let pendingKey: 'metadata' | 'user_id' | 'other' = 'other';
  let inMetadata = false;
  let metadataSeen = false;
  let userIdSeen = false;
  let userId: string | undefined;

  for (; i < buf.length; i++) {
    const b = buf[i];
    if (--budget.left < 0) return undefined;
    if (isSpace(b)) continue;
    switch (b) {
      case QUOTE: {
        const end = stringEnd(buf, i, budget);
        if (end === -1) return undefined;
        if (expectKey && (depth === 1 || (depth === 2 && inMetadata))) {
          if (depth === 1) pendingKey = keyIs(buf, i, end, METADATA) ? 'metadata' : 'other';
          else pendingKey = keyIs(buf, i, end, USER_ID) ? 'user_id' : 'other';
          expectKey = false;
        } else if (depth === 2 && inMetadata && pendingKey === 'user_id') {
          // The value of metadata.user_id.
          if (userIdSeen) return undefined;
          userIdSeen = true;
          userId = end - i - 1 <= MAX_USER_ID_BYTES ? decodeString(buf, i, end) : undefined;
          pendingKey = 'other';
        } else if (depth === 1 && pendingKey === 'metadata') {
          // "metadata": "..." is no metadata object, but a second "metadata" would still be ambiguous.
          if (metadataSeen) return undefined;
          metadataSeen = true;
          pendingKey = 'other';
        } else if (depth <= 2) {
          pendingKey = 'other';
        }
        i = end;
        break;
      }
      case COLON:
        break;
      case COMMA:
        if (depth === 1 || (depth === 2 && depth2IsObject)) expectKey = true;
        if (depth <= 2) pendingKey = 'other';
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        depth++;
        if (depth === 1) {
          expectKey = true;
        } else if (depth === 2) {
          depth2IsObject = b === OPEN_OBJECT;
          expectKey = depth2IsObject;
          if (pendingKey === 'metadata') {
            if (metadataSeen) return undefined;
            metadataSeen = true;
            inMetadata = depth2IsObject;
          }
        } else if (depth === 3 && pendingKey === 'user_id') {
          // metadata.user_id is not a string; a second one would still be ambiguous.
          if (userIdSeen) return undefined;
          userIdSeen = true;
        }
        pendingKey = 'other';
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        depth--;
        if (depth === 0) return userId;
        if (depth === 1) {
          inMetadata = false;
          expectKey = false;
        }
        pendingKey = 'other';
        break;
      default:
        // Numbers, true, false, null: a top-level "metadata": 1 is no metadata object, but counts as one.
        if (depth === 1 && pendingKey === 'metadata') {
          if (metadataSeen) return undefined;
          metadataSeen = true;
        } else if (depth === 2 && inMetadata && pendingKey === 'user_id') {
          if (userIdSeen) return undefined;
          userIdSeen = true;
        }
        pendingKey = 'other';
    }
  }
  return undefined;
}
