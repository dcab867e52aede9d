import type { FastifyInstance } from 'fastify';
import type { Service } from '../service.js';

/** GET /metrics: Prometheus text format, behind the admin access rules (it names every account). */
export function metricsRoutes(app: FastifyInstance, service: Service): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await service.metrics.render();
    return reply.type(service.metrics.contentType).send(text);
  });
}
