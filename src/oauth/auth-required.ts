import { errorResponse, type SyntheticResponse } from '../anthropic/errors.js';

export function exchangeCurl(serviceUrl: string): string {
  return `curl -X POST ${serviceUrl}/oauth/exchange-code -H 'Content-Type: application/json' -d '{"code": "PASTE_CODE#STATE_HERE"}'`;
}

/** The 401 a client gets when no Claude account can serve: a login URL and the exact command to finish it. */
export function authRequiredResponse(reason: string, loginUrl: string, serviceUrl: string): SyntheticResponse {
  return errorResponse(
    'authentication_error',
    `No Claude account can serve this request: ${reason}. ` +
      `To log in, open ${loginUrl} , sign in, copy the code the page shows, then run: ${exchangeCurl(serviceUrl)} ` +
      `(or run: claude-code-balancer login).`,
  );
}

/** The console banner saying the same. */
export function authRequiredBanner(reason: string, loginUrl: string, serviceUrl: string): string {
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
    `   ${exchangeCurl(serviceUrl)}`,
    '   or simply run: claude-code-balancer login',
    rule,
    '',
  ].join('\n');
}
