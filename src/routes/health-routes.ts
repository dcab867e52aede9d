import type { FastifyInstance } from 'fastify';
import { accountCounts, healthReport, HTTP_STATUS_OF_HEALTH, type HealthReport } from '../health/health-report.js';
import type { Service } from '../service.js';

/** The service's health now (the /health route and the dashboard's header). */
export function currentHealth(service: Service): HealthReport {
  const { pool } = service.oauth;
  return healthReport({
    providers: service.providers.health().map((p, i) => ({ ...p, pool: service.providers.all()[i].config.auth_value === 'oauth' })),
    accounts: accountCounts(pool.list(), pool.clock.now()),
    store: service.store,
  });
}

export function healthRoutes(app: FastifyInstance, service: Service): void {
  app.get('/health', async (_request, reply) => {
    const report = currentHealth(service);
    return reply.code(HTTP_STATUS_OF_HEALTH[report.status]).send(report);
  });
}
