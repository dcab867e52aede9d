import type { IncomingHttpHeaders } from 'node:http';
import type { SyntheticResponse } from '../anthropic/errors.js';

export type OutgoingHeaders = Record<string, string>;

/** The request as the credential layer sees it (read-only). */
export interface ProxyRequestInfo {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer | undefined;
  /** Conversation identity used to keep a session on one account, when the client sent one. */
  readonly sessionId: string | undefined;
  /** The name of the client key the request presented (never its value), when keys are in use. */
  readonly clientKey?: string;
  /** The request's log id, so debug lines of its attempts and scheduling can be matched to its request line. */
  readonly reqId?: string;
}

/** What the failover loop learnt from one upstream attempt. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body?: string }
  | { kind: 'network'; error: Error };

/**
 * After an attempt: 'deliver' the response to the client, 'retry' with this provider's next
 * credential, or go on to the 'next_provider'.
 */
export type AttemptVerdict = 'deliver' | 'retry' | 'next_provider';

export interface Credential {
  /** For logs and the x-balancer-account header: never the secret itself. */
  readonly label: string | undefined;
  /** Sets authentication headers on an outgoing request. */
  apply(headers: OutgoingHeaders, client: IncomingHttpHeaders): void;
}

/** One request's walk through a provider's credentials. */
export interface CredentialSession {
  /** The credential for the next attempt, or null when this provider has nothing more to try. */
  next(): Promise<Credential | null>;
  /** Records the outcome (usage, rate limits, refresh) and says what to do next. */
  judge(credential: Credential, outcome: AttemptOutcome): Promise<AttemptVerdict>;
  /** What the client should hear from this provider when it ran out of credentials, if more useful than the last upstream error. */
  finalWord?(): SyntheticResponse | undefined;
}

/**
 * The seam between the proxy and where credentials come from: a fixed key in providers.yaml,
 * the client's own credential, or the OAuth account pool.
 */
export interface CredentialSource {
  begin(request: ProxyRequestInfo): CredentialSession;
}

/** A failure worth trying elsewhere: the provider is overloaded, limited or broken, not the request. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** A single fixed credential: one attempt, failover on transient failures, deliver everything else. */
export class SingleCredentialSource implements CredentialSource {
  constructor(private readonly credential: Credential) {}

  begin(): CredentialSession {
    let used = false;
    const credential = this.credential;
    return {
      next: async () => {
        if (used) return null;
        used = true;
        return credential;
      },
      judge: async (_c, outcome) =>
        outcome.kind === 'network' || isTransientStatus(outcome.status) ? 'next_provider' : 'deliver',
    };
  }
}

export function apiKeyCredential(key: string): Credential {
  return {
    label: undefined,
    apply: (headers) => {
      headers['x-api-key'] = key;
    },
  };
}

export function bearerCredential(token: string): Credential {
  return {
    label: undefined,
    apply: (headers) => {
      headers.authorization = `Bearer ${token}`;
    },
  };
}

/** Forwards whatever credential the client itself sent. */
export const passthroughCredential: Credential = {
  label: 'client',
  apply: (headers, client) => {
    const key = client['x-api-key'];
    if (typeof key === 'string') headers['x-api-key'] = key;
    const auth = client.authorization;
    if (typeof auth === 'string') headers.authorization = auth;
  },
};
