import type { FastifyReply, FastifyRequest } from 'fastify';
import { localAccessRefusal } from '../routes/admin-access.js';
import type { DashboardSessions } from './session.js';

/** Header the page sends its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Dashboard routes: reachable before signing in (the sign-in itself). */
    dashboardBeforeSignIn?: boolean;
    /** Dashboard routes a browser cannot add headers to (EventSource): no CSRF header asked. */
    dashboardNoCsrfHeader?: boolean;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** An Origin header naming exactly the host the request was sent to. */
function sameOrigin(request: FastifyRequest): boolean {
  const { origin, host } = request.headers;
  if (typeof origin !== 'string' || typeof host !== 'string') return false;
  const o = origin.toLowerCase();
  const h = host.toLowerCase();
  return o === `http://${h}` || o === `https://${h}`;
}

function refuse(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).header('cache-control', 'no-store').send({ error, message });
}

/**
 * Who may load the page and its assets: what may use the admin routes. With an admin token the
 * page is served to anyone (it holds no data and asks for the token); without one, only to a
 * loopback browser that addresses this machine by a local name.
 */
export function pageGuard(adminToken: () => string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (adminToken()) return;
    const refusal = localAccessRefusal(request);
    if (refusal) await refuse(reply, 403, 'forbidden', refusal);
  };
}

/**
 * The dashboard's API: the admin access rules, where a signed-in browser session stands for the
 * admin token; every call carries the page's CSRF token (EventSource cannot, and only reads); a
 * call that changes something also carries an Origin naming this very host. A page of another
 * site gets nothing: its requests lack the SameSite=Strict cookie, the CSRF token and the Origin.
 */
export function apiGuard(adminToken: () => string | undefined, sessions: DashboardSessions) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const config = request.routeOptions.config;
    const id = sessions.idFrom(request.headers.cookie);
    if (request.headers['sec-fetch-site'] === 'cross-site') {
      return void (await refuse(reply, 403, 'forbidden', 'The dashboard answers its own page only, not pages of other sites.'));
    }
    const token = adminToken();
    if (!token) {
      const refusal = localAccessRefusal(request);
      if (refusal) return void (await refuse(reply, 403, 'forbidden', refusal));
    } else if (!config.dashboardBeforeSignIn && !sessions.isSignedIn(id, token)) {
      return void (await refuse(reply, 401, 'sign_in_required', 'This dashboard needs the admin token (settings.admin_token): enter it on the page.'));
    }
    if (!config.dashboardNoCsrfHeader) {
      const csrf = request.headers[CSRF_HEADER];
      if (!sessions.csrfValid(id, typeof csrf === 'string' ? csrf : undefined)) {
        return void (await refuse(reply, 403, 'csrf_refused', 'This call needs the CSRF token of a dashboard page loaded from this service: reload the page.'));
      }
    }
    if (!SAFE_METHODS.has(request.method) && !sameOrigin(request)) {
      return void (await refuse(reply, 403, 'origin_refused', 'A call that changes something must come from the dashboard page of this host (Origin must match Host).'));
    }
  };
}
