import { BodyRefusedError, type ParsedBody } from './receive-body.js';

/** Admin requests carry a few small fields; their bodies are parsed, so they are kept small. */
export const ADMIN_BODY_LIMIT = 64 * 1024;

/** The body of an admin request as JSON (admin bodies are small: ADMIN_BODY_LIMIT); a 400 when it is not. */
export function jsonOf(body: ParsedBody | undefined): unknown {
  if (!body?.isJson || body.raw.length === 0) return undefined;
  try {
    return JSON.parse(body.raw.toString('utf8'));
  } catch (err) {
    throw new BodyRefusedError(400, 'invalid_request_error', `The request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** An admin body's fields: JSON, or application/x-www-form-urlencoded (as `curl -d code=…` sends). */
export function fieldsOf(contentType: string | undefined, body: ParsedBody | undefined): unknown {
  if (body && !body.isJson && /^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) {
    return Object.fromEntries(new URLSearchParams(body.raw.toString('utf8')));
  }
  return jsonOf(body);
}
