import type { FastifyInstance } from 'fastify';
import type { ProxyLogFields } from '../proxy/forward.js';
import { sessionIdentity } from '../anthropic/session-identity.js';
import type { Service } from '../service.js';
import type { ParsedBody } from './receive-body.js';
import { FORWARDED_ROUTE } from './target-guard.js';
import { v1AccessGuard } from './v1-access.js';

/** Every /v1/* call goes upstream unchanged (method, path, query string and body bytes) once its target passed targetGuard. */
export function proxyRoutes(app: FastifyInstance, service: Service): void {
  app.all(FORWARDED_ROUTE, { onRequest: v1AccessGuard(service) }, async (request, reply) => {
    const parsed = request.body as ParsedBody | undefined;
    const fields: ProxyLogFields = { attempts: 0, bytes: 0 };
    request.proxyFields = fields;
    reply.hijack();
    await service.forwarder.forward(
      request.raw,
      reply.raw,
      {
        method: request.method,
        // Checked by targetGuard: origin-form, under /v1/, no dot segment in any encoding.
        url: request.raw.url ?? request.url,
        headers: request.headers,
        body: parsed?.raw,
        clientKey: request.clientKey ?? undefined,
        reqId: request.id,
        sessionId: service.wantsSessionIdentity() ? sessionIdentity(request.headers, parsed?.raw) : undefined,
      },
      fields,
    );
  });

  // Claude Code probes its base URL before its first request; any 2xx will do (GET / is in src/dashboard/).
  app.get('/api/hello', async () => ({ status: 'ok' }));
}
