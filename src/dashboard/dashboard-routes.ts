import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sameSecret } from '../routes/admin-access.js';
import { ADMIN_BODY_LIMIT, jsonOf } from '../routes/admin-body.js';
import type { ParsedBody } from '../routes/receive-body.js';
import { currentHealth } from '../routes/health-routes.js';
import { accountStatus, oauthRoutes } from '../routes/oauth-routes.js';
import { usageRoutes } from '../routes/usage-routes.js';
import type { Service } from '../service.js';
import { apiGuard, pageGuard } from './access.js';
import { DashboardEvents } from './event-stream.js';
import { loadAssets, renderPage, SECURITY_HEADERS } from './page-assets.js';
import { poolHeader } from './pool-header.js';
import { DashboardSessions, sessionCookie } from './session.js';

function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/**
 * The dashboard: the page at GET / (for a browser; other clients, Claude Code's probe among
 * them, get the small JSON answer they always had), its files under /dashboard/assets/, and its
 * API under /dashboard/: the admin API's /oauth routes again, behind the dashboard's guard, an
 * overview of the pool and the event stream.
 */
export function dashboardRoutes(app: FastifyInstance, service: Service): void {
  const adminToken = () => service.config.settings.admin_token;
  const sessions = new DashboardSessions();
  const events = new DashboardEvents({
    pool: (listener) => service.oauth.pool.events.on('*', listener),
    activity: (listener) => service.activity.on(listener),
  });
  const assets = loadAssets();
  const guardPage = pageGuard(adminToken);
  app.addHook('preClose', (done) => {
    events.close();
    done();
  });

  app.get('/', async (request, reply) => {
    if (!wantsHtml(request)) return { service: 'claude-code-balancer', status: 'ok' };
    void reply.headers(SECURITY_HEADERS);
    await guardPage(request, reply);
    if (reply.sent) return reply;
    let id = sessions.idFrom(request.headers.cookie);
    if (id === undefined) {
      id = sessions.newId();
      void reply.header('set-cookie', sessionCookie(id));
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderPage(sessions.csrfFor(id)));
  });

  app.get('/dashboard/assets/:name', { onRequest: guardPage }, async (request, reply) => {
    const asset = assets.get((request.params as { name: string }).name);
    void reply.headers(SECURITY_HEADERS);
    if (!asset) return reply.code(404).send({ error: 'not_found', message: 'No such dashboard file.' });
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  });

  void app.register(async (api) => {
    api.addHook('onRoute', (route) => {
      route.bodyLimit ??= ADMIN_BODY_LIMIT;
    });
    api.addHook('onRequest', async (_request, reply) => void reply.headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' }));
    api.addHook('onRequest', apiGuard(adminToken, sessions));
    sessionRoutes(api, service, sessions);

    api.get('/dashboard/api/overview', async () => {
      const { pool } = service.oauth;
      const now = pool.clock.now();
      const accounts = pool.list();
      return {
        health: poolHeader(currentHealth(service).status, accounts, now),
        accounts: accounts.map((a) => accountStatus(a, now)),
        admin_token: Boolean(adminToken()),
        usage: app.hasRoute({ method: 'GET', url: '/dashboard/api/admin/usage' }),
      };
    });

    api.get('/dashboard/events', { config: { dashboardNoCsrfHeader: true } }, async (_request, reply) => {
      reply.hijack();
      const headers = { ...SECURITY_HEADERS };
      if (!events.attach(reply.raw, headers)) {
        reply.raw.writeHead(503, { ...headers, 'content-type': 'application/json', 'retry-after': '30' });
        reply.raw.end(JSON.stringify({ error: 'too_many_streams', message: 'Too many dashboard pages are open; close one.' }));
      }
    });

    await api.register(async (oauth) => oauthRoutes(oauth, service), { prefix: '/dashboard/api' });
    await api.register(async (usage) => usageRoutes(usage, service), { prefix: '/dashboard/api' });
  });
}

/** Signing a browser in with the admin token (when one is set) and out again. */
function sessionRoutes(api: FastifyInstance, service: Service, sessions: DashboardSessions): void {
  api.post('/dashboard/session', { config: { dashboardBeforeSignIn: true } }, async (request, reply: FastifyReply) => {
    const token = service.config.settings.admin_token;
    if (!token) return reply.code(409).send({ error: 'no_admin_token', message: 'No admin token is set: the dashboard needs no sign-in.' });
    const presented = (jsonOf(request.body as ParsedBody | undefined) as { token?: unknown } | undefined)?.token;
    if (typeof presented !== 'string' || !sameSecret(presented, token)) {
      service.logger.warn({ from: request.socket.remoteAddress }, 'dashboard sign-in refused: wrong admin token');
      return reply.code(401).send({ error: 'wrong_token', message: 'That is not the admin token (settings.admin_token).' });
    }
    sessions.signOut(sessions.idFrom(request.headers.cookie));
    const id = sessions.signIn(token);
    service.logger.info({ from: request.socket.remoteAddress }, 'dashboard signed in');
    return reply.header('set-cookie', sessionCookie(id)).send({ status: 'signed_in', csrf: sessions.csrfFor(id) });
  });

  api.delete('/dashboard/session', async (request) => {
    sessions.signOut(sessions.idFrom(request.headers.cookie));
    return { status: 'signed_out' };
  });
}
