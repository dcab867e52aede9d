import type { IncomingHttpHeaders } from 'node:http';

/**
 * The conversation a request belongs to, so it can stay on one account (the prompt cache is
 * per organization). Claude Code sends x-claude-code-session-id; other clients may carry it in
 * metadata.user_id, a JSON string with a session_id.
 */
export function sessionIdentity(headers: IncomingHttpHeaders, body: unknown): string | undefined {
  const header = headers['x-claude-code-session-id'];
  if (typeof header === 'string' && header) return header;
  if (!body || typeof body !== 'object') return undefined;
  const userId = (body as { metadata?: { user_id?: unknown } }).metadata?.user_id;
  if (typeof userId !== 'string' || !userId.includes('session_id')) return undefined;
  try {
    const parsed = JSON.parse(userId) as { session_id?: unknown };
    return typeof parsed.session_id === 'string' && parsed.session_id ? parsed.session_id : undefined;
  } catch {
    return undefined;
  }
}
