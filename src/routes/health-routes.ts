import type { FastifyInstance } from 'fastify';
import { accountCounts, healthReport, HTTP_STATUS_OF_HEALTH } from '../health/health-report.js';
import type { Service } from '../service.js';

export function healthRoutes(app: FastifyInstance, service: Service): void {
  app.get('/health', async (_request, reply) => {
    const { pool } = service.oauth;
    const report = healthReport({
      providers: service.providers.health().map((p, i) => ({ ...p, pool: service.providers.all()[i].config.auth_value === 'oauth' })),
      accounts: accountCounts(pool.list(), pool.clock.now()),
      store: service.store,
    });
    return reply.code(HTTP_STATUS_OF_HEALTH[report.status]).send(report);
  });
}
