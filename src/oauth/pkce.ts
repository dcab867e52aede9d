import { createHash, randomBytes } from 'node:crypto';
import type { OAuthSettings } from '../config/schema.js';

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** S256 code challenge: BASE64URL(SHA-256(verifier)), unpadded. */
export function codeChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** The authorize URL as Claude Code builds it, parameters in its order. */
export function authorizeUrl(settings: OAuthSettings, challenge: string, state: string): string {
  const params = new URLSearchParams([
    ['code', 'true'],
    ['client_id', settings.client_id],
    ['response_type', 'code'],
    ['redirect_uri', settings.redirect_uri],
    ['scope', settings.scopes.join(' ')],
    ['code_challenge', challenge],
    ['code_challenge_method', 'S256'],
    ['state', state],
  ]);
  return `${settings.authorize_url}?${params.toString()}`;
}
