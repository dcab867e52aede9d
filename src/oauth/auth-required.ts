import { errorResponse, type SyntheticResponse } from '../anthropic/errors.js';
import { cliCommand } from '../hints/cli-command.js';
import { dashboardUrl } from '../hints/dashboard-url.js';
import { minutesLeft } from './pending-logins.js';

/**
 * Everything the service says when its pool cannot serve: the client's 401 and 429, the console
 * banner, the startup line. The next step is worded here and nowhere else.
 */

/** Claude Code retries a 401 or 429 ten times otherwise, and an empty pool looks like a hang. */
const DO_NOT_RETRY = { 'x-should-retry': 'false' } as const;

/** This service, as the first words of a message, so it is not taken for Anthropic's own answer. */
export function serviceLabel(serviceUrl: string): string {
  return `claude-code-balancer (${serviceUrl})`;
}

/** The single next step when the pool needs an account. */
export function loginStep(serviceUrl: string): string {
  return `log one in with ${cliCommand('login')} or on the dashboard at ${dashboardUrl(serviceUrl)}`;
}

export function exchangeCurl(serviceUrl: string): string {
  return `curl -X POST ${serviceUrl}/oauth/exchange-code -H 'Content-Type: application/json' -d '{"code": "PASTE_CODE#STATE_HERE"}'`;
}

/** The 401 a client gets when no Claude account can serve: the next step first, then a login URL and the command to finish it. */
export function authRequiredResponse(reason: string, loginUrl: string, serviceUrl: string): SyntheticResponse {
  return errorResponse(
    'authentication_error',
    `${serviceLabel(serviceUrl)} has no Claude account that can serve: ${loginStep(serviceUrl)}\n` +
      `(${reason}; ${cliCommand('accounts')} shows each account.) ` +
      `Or open ${loginUrl} , sign in, copy the code the page shows, then run: ${exchangeCurl(serviceUrl)}`,
    401,
    DO_NOT_RETRY,
  );
}

/** The 429 while every account is only limited: when the first comes back, and what to do meanwhile. */
export function rateLimitedResponse(freeAt: number, now: number, serviceUrl: string): SyntheticResponse {
  const seconds = Math.max(1, Math.ceil((freeAt - now) / 1000));
  // Account emails stay out of client-facing messages: /v1 may be open to more people than the admin API.
  return errorResponse(
    'rate_limit_error',
    `${serviceLabel(serviceUrl)} has no Claude account that can serve now: every one is rate limited, ` +
      `the first frees up at ${new Date(freeAt).toISOString()} (in ${formatWait(seconds)}). ` +
      `To keep working meanwhile, ${loginStep(serviceUrl)} (another account) or add an API-key provider after the pool.`,
    429,
    { 'retry-after': String(seconds), ...DO_NOT_RETRY },
  );
}

/** The console banner saying the same as the 401. */
export function authRequiredBanner(reason: string, loginUrl: string, serviceUrl: string, validUntil: number, now: number): string {
  const rule = '='.repeat(78);
  return [
    '',
    rule,
    'CLAUDE CODE OFFICIAL AUTHORIZATION REQUIRED',
    rule,
    `${serviceLabel(serviceUrl)} has no Claude account that can serve: ${loginStep(serviceUrl)}`,
    `Why: ${reason} (${cliCommand('accounts')} shows each account)`,
    '',
    'Or by hand:',
    `1. Open this URL in a browser and sign in to your Claude account (valid for ${minutesLeft(validUntil, now)}, until ${new Date(validUntil).toISOString()}):`,
    `   ${loginUrl}`,
    '2. Copy the code the page shows (CODE#STATE) and send it to the service:',
    `   ${exchangeCurl(serviceUrl)}`,
    rule,
    '',
  ].join('\n');
}

function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
