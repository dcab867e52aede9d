import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The dashboard's cookie: a random browser id, never a credential by itself. */
export const SESSION_COOKIE = 'ccb_dashboard';
/** A signed-in dashboard (admin token mode) lasts this long after its last use. */
export const SESSION_IDLE_MS = 12 * 60 * 60_000;
/** Signed-in browsers kept at once; the oldest is signed out beyond that. */
const MAX_SIGNED_IN = 64;

const ID = /^[A-Za-z0-9_-]{43}$/;

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The value of one cookie in a Cookie header (the first of that name). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * Browser sessions of the dashboard. Every page load gets a cookie id (kept if it has one) and a
 * fresh CSRF token bound to that id by an HMAC, so CSRF tokens need no storage. With an admin
 * token, a browser that presented it is remembered as signed in, under a new id (a session
 * fixed before sign-in is worth nothing), and only while the admin token is the one it presented.
 * Everything is in memory: a restart signs every browser out.
 */
export class DashboardSessions {
  private readonly secret = randomBytes(32);
  /** id -> { expiresAt, hash of the admin token it presented } */
  private readonly signedIn = new Map<string, { expiresAt: number; token: string }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The id of a well-formed cookie, or undefined. */
  idFrom(cookieHeader: string | undefined): string | undefined {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    return id !== undefined && ID.test(id) ? id : undefined;
  }

  newId(): string {
    return randomBytes(32).toString('base64url');
  }

  /** A new CSRF token for one page of this browser. */
  csrfFor(id: string): string {
    const nonce = randomBytes(16).toString('base64url');
    return `${nonce}.${this.mac(id, nonce)}`;
  }

  csrfValid(id: string | undefined, token: string | undefined): boolean {
    if (id === undefined || typeof token !== 'string') return false;
    const dot = token.indexOf('.');
    if (dot <= 0) return false;
    const expected = Buffer.from(this.mac(id, token.slice(0, dot)));
    const given = Buffer.from(token.slice(dot + 1));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** After the admin token was presented: the new id this browser is signed in under. */
  signIn(adminToken: string): string {
    const id = this.newId();
    this.signedIn.set(id, { expiresAt: this.now() + SESSION_IDLE_MS, token: tokenHash(adminToken) });
    for (const oldest of this.signedIn.keys()) {
      if (this.signedIn.size <= MAX_SIGNED_IN) break;
      this.signedIn.delete(oldest);
    }
    return id;
  }

  /** Whether this id is signed in under the current admin token; extends it when so. */
  isSignedIn(id: string | undefined, adminToken: string): boolean {
    if (id === undefined) return false;
    const session = this.signedIn.get(id);
    if (!session) return false;
    const now = this.now();
    if (session.expiresAt <= now || session.token !== tokenHash(adminToken)) {
      this.signedIn.delete(id);
      return false;
    }
    session.expiresAt = now + SESSION_IDLE_MS;
    return true;
  }

  signOut(id: string | undefined): void {
    if (id !== undefined) this.signedIn.delete(id);
  }

  private mac(id: string, nonce: string): string {
    return createHmac('sha256', this.secret).update(`${id}.${nonce}`).digest('base64url');
  }
}
