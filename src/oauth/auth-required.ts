import { errorResponse, type SyntheticResponse } from '../proxy/anthropic-errors.js';
import type { Clock } from './clock.js';

const BANNER_INTERVAL_MS = 60_000;

export function exchangeCurl(serviceUrl: string): string {
  return `curl -X POST ${serviceUrl}/oauth/exchange-code -H 'Content-Type: application/json' -d '{"code": "PASTE_CODE#STATE_HERE"}'`;
}

/**
 * Tells the user what to do when no Claude account can serve: a 401 whose message carries a
 * fresh authorize URL and the exact command to finish the login, and a console banner, printed
 * at most once a minute however many requests fail.
 */
export class AuthRequiredNotice {
  private lastBannerAt = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly print: (text: string) => void = (text) => process.stderr.write(text),
  ) {}

  respond(reason: string, loginUrl: string, serviceUrl: string): SyntheticResponse {
    const curl = exchangeCurl(serviceUrl);
    const now = this.clock.now();
    if (now - this.lastBannerAt >= BANNER_INTERVAL_MS) {
      this.lastBannerAt = now;
      this.print(banner(reason, loginUrl, curl));
    }
    return errorResponse(
      'authentication_error',
      `No Claude account can serve this request: ${reason}. ` +
        `To log in, open ${loginUrl} , sign in, copy the code the page shows, then run: ${curl} ` +
        `(or run: claude-code-balancer login).`,
    );
  }
}

function banner(reason: string, loginUrl: string, curl: string): string {
  const rule = '='.repeat(78);
  return [
    '',
    rule,
    'CLAUDE CODE OFFICIAL AUTHORIZATION REQUIRED',
    rule,
    `Reason: ${reason}`,
    '',
    '1. Open this URL in a browser and sign in to your Claude account:',
    `   ${loginUrl}`,
    '2. Copy the code the page shows (CODE#STATE) and send it to the service:',
    `   ${curl}`,
    '   or simply run: claude-code-balancer login',
    rule,
    '',
  ].join('\n');
}
