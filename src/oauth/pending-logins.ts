import type { OAuthSettings } from '../config/schema.js';
import type { Clock } from './clock.js';
import { authorizeUrl, codeChallenge, randomToken } from './pkce.js';

export const LOGIN_TTL_MS = 10 * 60 * 1000;
const LOGIN_TTL_TEXT = minutesLeft(LOGIN_TTL_MS, 0);
/** Every 401 without a usable account hands out a login URL; a retry storm must not grow this without bound. */
export const MAX_PENDING_LOGINS = 100;

/** "10 minutes": how long a login URL stays valid from `now`, never under one minute (it is still usable). */
export function minutesLeft(until: number, now: number): string {
  const minutes = Math.max(1, Math.round((until - now) / 60_000));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

export interface PendingLogin {
  state: string;
  verifier: string;
  loginUrl: string;
  createdAt: number;
  expiresAt: number;
}

/** Pending logins shared with other instances (the Redis store): one started here may be finished there. */
export interface SharedLogins {
  savePendingLogin(state: string, login: PendingLogin, ttlMs: number): Promise<void>;
  /** The login, removed from the shared place, or null. */
  takePendingLogin(state: string): Promise<unknown>;
}

/** Logins started but not yet exchanged, one per state; several may be open at once. */
export class PendingLogins {
  private readonly byState = new Map<string, PendingLogin>();
  private shared: SharedLogins | null = null;

  constructor(private readonly clock: Clock) {}

  shareWith(shared: SharedLogins): void {
    this.shared = shared;
  }

  start(settings: OAuthSettings): PendingLogin {
    this.prune();
    const verifier = randomToken();
    const state = randomToken();
    const now = this.clock.now();
    const login: PendingLogin = {
      state,
      verifier,
      loginUrl: authorizeUrl(settings, codeChallenge(verifier), state),
      createdAt: now,
      expiresAt: now + LOGIN_TTL_MS,
    };
    this.byState.set(state, login);
    // Best effort: written long before the user pastes the code; if it fails, finish the login here.
    this.shared?.savePendingLogin(state, login, LOGIN_TTL_MS).catch(() => undefined);
    // Map order is creation order: drop the oldest beyond the cap.
    for (const oldest of this.byState.keys()) {
      if (this.byState.size <= MAX_PENDING_LOGINS) break;
      this.byState.delete(oldest);
    }
    return login;
  }

  /** The pending login for a state, or why there is none. */
  find(state: string | undefined): PendingLogin | { error: string } {
    this.prune();
    if (state === undefined) {
      let latest: PendingLogin | undefined;
      for (const login of this.byState.values()) if (!latest || login.createdAt >= latest.createdAt) latest = login;
      return latest ?? { error: `No login is pending (or it expired after ${LOGIN_TTL_TEXT}): call GET /oauth/generate-url first.` };
    }
    const login = this.byState.get(state);
    if (!login) {
      return {
        error:
          `The state in the code does not match a pending login: it is wrong, was already used, or expired after ${LOGIN_TTL_TEXT}. Generate a new URL with GET /oauth/generate-url.`,
      };
    }
    return login;
  }

  /** As find(), and a login started on another instance when this one has none for the state. */
  async findAnywhere(state: string | undefined): Promise<PendingLogin | { error: string }> {
    const local = this.find(state);
    if (!('error' in local) || state === undefined || !this.shared) return local;
    const remote = (await this.shared.takePendingLogin(state).catch(() => null)) as PendingLogin | null;
    if (!remote || remote.state !== state || typeof remote.verifier !== 'string' || remote.expiresAt <= this.clock.now()) {
      return local;
    }
    this.byState.set(state, remote);
    return remote;
  }

  has(state: string): boolean {
    const login = this.byState.get(state);
    return login !== undefined && login.expiresAt > this.clock.now();
  }

  complete(state: string): void {
    this.byState.delete(state);
    this.shared?.takePendingLogin(state).catch(() => undefined);
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [state, login] of this.byState) if (login.expiresAt <= now) this.byState.delete(state);
  }
}

/**
 * What the user pasted: 'CODE#STATE' as the callback page shows it, the callback URL itself,
 * or a bare code.
 */
export function parsePastedCode(input: string): { code: string; state?: string } {
  const text = input.trim();
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { code: '' };
    }
    const code = url.searchParams.get('code') ?? '';
    const state = url.searchParams.get('state') ?? (url.hash ? url.hash.slice(1) : undefined);
    return { code, state: state || undefined };
  }
  const hash = text.indexOf('#');
  if (hash >= 0) return { code: text.slice(0, hash), state: text.slice(hash + 1) || undefined };
  return { code: text };
}
