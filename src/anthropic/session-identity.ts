import type { IncomingHttpHeaders } from 'node:http';
import { metadataUserId } from './metadata-user-id.js';

/**
 * The conversation a request belongs to, so it can stay on one account (the prompt cache is
 * per organization). Claude Code sends x-claude-code-session-id; other clients may carry it in
 * metadata.user_id, a JSON string with a session_id. The body is only looked into when the
 * header is absent, and then with a bounded scan (metadataUserId), never a parse of the body.
 */
export function sessionIdentity(headers: IncomingHttpHeaders, body: Buffer | undefined): string | undefined {
  const header = headers['x-claude-code-session-id'];
  if (typeof header === 'string' && header) return header;
  if (!body || body.length === 0) return undefined;
  const userId = metadataUserId(body);
  if (userId === undefined || !userId.includes('session_id')) return undefined;
  try {
    const parsed = JSON.parse(userId) as { session_id?: unknown };
    return typeof parsed?.session_id === 'string' && parsed.session_id ? parsed.session_id : undefined;
  } catch {
    return undefined;
  }
}
