import { Agent, request, type Dispatcher } from 'undici';
import type { OAuthSettings } from '../config/schema.js';

/** What the token endpoint returns (shared/docs/anthropic.md). */
export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  scope?: string;
  token_type?: string;
  account?: { uuid?: string; email_address?: string };
  organization?: { uuid?: string; name?: string };
}

/** A successful token-endpoint answer and its HTTP status (for the debug log of a refresh). */
export interface TokenAnswer {
  tokens: TokenResponse;
  status: number;
}

/**
 * 'rejected': the endpoint refused the grant (e.g. invalid_grant: a used code, a dead refresh
 * token) — retrying will not help. 'transient': network, timeout, 429 or 5xx — keep the
 * credentials and try later.
 */
export class TokenEndpointError extends Error {
  constructor(
    readonly kind: 'rejected' | 'transient',
    readonly status: number | undefined,
    readonly error: string,
    readonly description: string,
  ) {
    super(description ? `${error}: ${description}` : error);
    this.name = 'TokenEndpointError';
  }

  get isInvalidGrant(): boolean {
    return this.kind === 'rejected' && this.error === 'invalid_grant';
  }
}

const USER_AGENT = 'claude-code-balancer/0.1 (undici)';

/** Scopes sent with a refresh: the granted ones minus org:create_api_key, as Claude Code does. */
export function refreshScopes(scopes: readonly string[]): string {
  return scopes.filter((s) => s !== 'org:create_api_key').join(' ');
}

/** Token calls are minutes apart: a short keep-alive spares the handshake of a login's exchange + profile pair. */
export const TOKEN_KEEP_ALIVE_MS = 10_000;

export class TokenClient {
  /** dispatcher: the outbound proxy's agent when one is configured. */
  constructor(
    private settings: OAuthSettings,
    private readonly agent: Dispatcher = new Agent({ keepAliveTimeout: TOKEN_KEEP_ALIVE_MS }),
  ) {}

  configure(settings: OAuthSettings): void {
    this.settings = settings;
  }

  async exchangeCode(code: string, state: string, verifier: string): Promise<TokenResponse> {
    const { tokens } = await this.post({
      grant_type: 'authorization_code',
      code,
      state,
      code_verifier: verifier,
      redirect_uri: this.settings.redirect_uri,
      client_id: this.settings.client_id,
    });
    return tokens;
  }

  refresh(refreshToken: string, scopes: readonly string[]): Promise<TokenAnswer> {
    return this.post({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: this.settings.client_id,
      scope: refreshScopes(scopes.length ? scopes : this.settings.scopes),
    });
  }

  /** The account email from the profile endpoint, for token responses that carry none; undefined when unavailable. */
  async profileEmail(accessToken: string): Promise<string | undefined> {
    const timeout = this.settings.token_timeout_ms;
    try {
      const res = await request(this.settings.profile_url, {
        method: 'GET',
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${accessToken}`,
          'anthropic-beta': this.settings.oauth_beta,
          accept: 'application/json',
          'user-agent': USER_AGENT,
        },
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return undefined;
      }
      const profile = (await res.body.json()) as { account?: { email?: unknown; email_address?: unknown } };
      const email = profile.account?.email ?? profile.account?.email_address;
      return typeof email === 'string' && email ? email : undefined;
    } catch {
      return undefined;
    }
  }

  private async post(body: Record<string, string>): Promise<TokenAnswer> {
    const timeout = this.settings.token_timeout_ms;
    let status: number;
    let text: string;
    try {
      const res = await request(this.settings.token_url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': USER_AGENT },
        body: JSON.stringify(body),
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const e = err as Error & { code?: string };
      throw new TokenEndpointError('transient', undefined, 'network_error', `${e.code ?? e.name}: ${e.message}`);
    }

    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }

    if (status >= 200 && status < 300) {
      if (!json || typeof json.access_token !== 'string' || typeof json.expires_in !== 'number') {
        throw new TokenEndpointError('transient', status, 'invalid_response', 'the token endpoint answered without an access_token and expires_in');
      }
      return { tokens: json as unknown as TokenResponse, status };
    }
    const error = typeof json?.error === 'string' ? json.error : `http_${status}`;
    const description =
      typeof json?.error_description === 'string'
        ? json.error_description
        : typeof (json?.error as { message?: unknown })?.message === 'string'
          ? String((json!.error as { message: string }).message)
          : text.slice(0, 200);
    const transient = status === 429 || status >= 500;
    throw new TokenEndpointError(transient ? 'transient' : 'rejected', status, error, description);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
