import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { dashboardRoutes } from './dashboard/dashboard-routes.js';
import { applyConnectionLimits, clientErrorHandler, requestTimeoutOptions } from './http/connection-limits.js';
import { logRequestLine } from './logging/logger.js';
import { addReasonPhrases, anthropicErrorBody } from './anthropic/errors.js';
import type { ProxyLogFields } from './proxy/forward.js';
import { pathOnly } from './proxy/request-target.js';
import { adminAccessGuard } from './routes/admin-access.js';
import { adminRoutes } from './routes/admin-routes.js';
import { ADMIN_BODY_LIMIT } from './routes/admin-body.js';
import { bodyParsers } from './routes/body-parsers.js';
import { BodyRefusedError } from './routes/receive-body.js';
import { adminError, isAdminRequest } from './routes/admin-errors.js';
import { healthRoutes } from './routes/health-routes.js';
import { keyRoutes } from './routes/key-routes.js';
import { oauthRoutes } from './routes/oauth-routes.js';
import { proxyRoutes } from './routes/proxy-routes.js';
import { usageRoutes } from './routes/usage-routes.js';
import { metricsRoutes } from './routes/metrics-routes.js';
import { targetGuard } from './routes/target-guard.js';
import type { Service } from './service.js';

declare module 'fastify' {
  interface FastifyRequest {
    proxyFields: ProxyLogFields | null;
  }
}

/** Builds the HTTP app from a service's parts; the caller decides where it listens (tests use port 0). */
export function buildApp(service: Service): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: service.config.settings.max_body_bytes,
    return503OnClosing: true,
    requestIdHeader: false,
    // Clients follow Anthropic's paths exactly; '/v1/messages/' is not '/v1/messages'.
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 },
    ...requestTimeoutOptions(service.config.settings),
    clientErrorHandler,
  });
  applyConnectionLimits(app.server, service.config.settings, service.logger);

  addReasonPhrases();

  app.decorateRequest('proxyFields', null);
  app.decorateRequest('clientKey', null);
  bodyParsers(app, () => service.config.settings.max_inflight_body_bytes);
  requestLogging(app, service);
  refuseRepeatedHost(app);
  targetGuard(app);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isAdminRequest(request)) {
      if (error instanceof BodyRefusedError) return adminError(reply, error.statusCode, 'invalid_request', error.message);
      if (error.statusCode && error.statusCode < 500) return adminError(reply, error.statusCode, 'invalid_request', error.message);
      service.logger.error({ err: error, path: request.url }, 'unhandled error');
      return adminError(reply, 500, 'internal_error', 'Internal error in the balancer.');
    }
    if (error instanceof BodyRefusedError) {
      if (error.headers.connection === undefined) reply.removeHeader('connection');
      return reply.code(error.statusCode).headers(error.headers).type('application/json').send(anthropicErrorBody(error.type, error.message));
    }
    if (error.statusCode && error.statusCode < 500) {
      return reply.code(error.statusCode).type('application/json').send(anthropicErrorBody('invalid_request_error', error.message));
    }
    service.logger.error({ err: error, path: pathOnly(request.url) }, 'unhandled error');
    return reply.code(500).type('application/json').send(anthropicErrorBody('api_error', 'Internal error in the balancer.'));
  });

  app.setNotFoundHandler((request, reply) =>
    isAdminRequest(request)
      ? adminError(reply, 404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`)
      : reply
      .code(404)
      .type('application/json')
      .send(anthropicErrorBody('not_found_error', `No route for ${request.method} ${pathOnly(request.url)}.`)),
  );

  proxyRoutes(app, service);
  healthRoutes(app, service);
  dashboardRoutes(app, service);
  void app.register(async (admin) => {
    admin.addHook('onRoute', (route) => {
      route.bodyLimit ??= ADMIN_BODY_LIMIT;
    });
    admin.addHook('onRequest', adminAccessGuard(() => service.config.settings.admin_token));
    adminRoutes(admin, service);
    oauthRoutes(admin, service);
    keyRoutes(admin, service);
    usageRoutes(admin, service);
    metricsRoutes(admin, service);
  });
  return app;
}

/**
 * Node keeps the first of two Host headers and drops the other; a proxy in front may have
 * routed by the other one. A request that names two hosts is refused rather than guessed at.
 */
function refuseRepeatedHost(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw.rawHeaders;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') hosts++;
    if (hosts <= 1) return done();
    void reply
      .code(400)
      .header('connection', 'close')
      .type('application/json')
      .send(anthropicErrorBody('invalid_request_error', 'The request has more than one Host header.'));
  });
}

/** One JSON line per request, written when the response is over (or the client has gone). */
function requestLogging(app: FastifyInstance, service: Service): void {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    reply.raw.once('close', () => {
      const fields = request.proxyFields;
      const res = reply.raw;
      const finished = res.writableFinished;
      const durationMs = performance.now() - started;
      if (fields) {
        service.usage.requestEnded({
          provider: fields.provider,
          account: fields.account,
          key: request.clientKey ?? undefined,
          status: finished ? res.statusCode : undefined,
          error: fields.error,
          usage: fields.usage?.result(),
          ttfbMs: fields.upstreamHeadAt === undefined ? undefined : fields.upstreamHeadAt - started,
          totalMs: durationMs,
        });
      }
      if (!service.logger.isLevelEnabled('info')) return;
      logRequestLine(service.logger, {
        req_id: request.id,
        method: request.method,
        path: pathOnly(request.url),
        provider: fields?.provider,
        account: fields?.account,
        client_key: request.clientKey ?? undefined,
        attempts: fields?.attempts,
        status: finished ? res.statusCode : undefined,
        client_closed: finished ? undefined : true,
        duration_ms: Math.round(durationMs * 10) / 10,
        bytes: fields?.bytes,
        upstream_request_id: fields?.upstreamRequestId,
        error: fields?.error,
      });
    });
    done();
  });
}
