import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLocalHostHeader, isLocalOrigin, isLoopbackAddress } from '../access/local-names.js';
import { adminError } from './admin-errors.js';

export function sameSecret(a: string, b: string): boolean {
  // Hashing first makes the comparison constant-time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers['x-admin-token'];
  if (typeof header === 'string') return header;
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && auth.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  return undefined;
}

/**
 * A web page the user visits can make the browser send requests to loopback, and DNS rebinding
 * can make them look same-origin: a loopback peer alone is not proof of a local tool. Requests
 * from curl and the CLI carry a loopback Host and no foreign Origin; `Sec-Fetch-Site: cross-site` is a
 * browser saying another site started the request (a navigation carries no Origin).
 */
function fromLocalName(request: FastifyRequest): boolean {
  const { host, origin } = request.headers;
  if (typeof host === 'string' && !isLocalHostHeader(host)) return false;
  if (typeof origin === 'string' && !isLocalOrigin(origin)) return false;
  return request.headers['sec-fetch-site'] !== 'cross-site';
}

/**
 * Admin routes (/oauth/*, /admin/*) hold the keys to every account: loopback clients only, unless
 * an admin token is configured, in which case every caller must present it.
 */
export function adminAccessGuard(adminToken: () => string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = adminToken();
    if (token) {
      const presented = presentedToken(request);
      if (presented !== undefined && sameSecret(presented, token)) return;
      await adminError(reply, 401, 'unauthorized', 'This admin route needs the admin token: send Authorization: Bearer <admin_token> or x-admin-token.');
      return;
    }
    const refusal = localAccessRefusal(request);
    if (refusal) await adminError(reply, 403, 'forbidden', refusal);
  };
}

/**
 * Without an admin token, who may use what the admin routes guard (the dashboard too): undefined
 * for a loopback client addressing this machine by an exact local name, else why not.
 */
export function localAccessRefusal(request: FastifyRequest): string | undefined {
  if (!isLoopbackAddress(request.socket.remoteAddress)) {
    return 'Admin routes answer loopback clients only; set settings.admin_token to allow remote access.';
  }
  if (!fromLocalName(request)) {
    return 'Admin routes answer requests addressed to localhost only (Host and Origin must be loopback names).';
  }
  return undefined;
}
