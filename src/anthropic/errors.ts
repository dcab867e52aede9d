import { STATUS_CODES } from 'node:http';

/** Anthropic's error shape, so every client (SDK, Claude Code) can read what went wrong. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

export const STATUS_OF_ERROR_TYPE: Record<AnthropicErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/**
 * Node's http has no reason phrase for 529 and writes `529 unknown`; Anthropic answers `529
 * Overloaded`. Added to the table every response's status line is taken from, so every writer
 * (fastify's replies, the relay's own writeHead) says it without being told.
 */
export function addReasonPhrases(): void {
  STATUS_CODES[529] ??= 'Overloaded';
}

export function anthropicErrorBody(type: AnthropicErrorType, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message } });
}

/** A response the service makes up itself (as opposed to one relayed from an upstream). */
export interface SyntheticResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function errorResponse(
  type: AnthropicErrorType,
  message: string,
  status = STATUS_OF_ERROR_TYPE[type],
  headers: Record<string, string> = {},
): SyntheticResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: anthropicErrorBody(type, message),
  };
}

/** The SSE event that tells a client its stream failed after it had started. */
export function sseErrorEvent(type: AnthropicErrorType, message: string): string {
  return `event: error\ndata: ${anthropicErrorBody(type, message)}\n\n`;
}
