import type { FastifyInstance } from 'fastify';
import type { Service } from '../service.js';

export function adminRoutes(app: FastifyInstance, service: Service): void {
  app.post('/admin/reload', async (_request, reply) => {
    const result = await service.reload();
    if (result.ok) return { status: 'reloaded', config: service.configPath, needs_restart: result.needsRestart };
    return reply.code(400).send({ status: 'refused', config: service.configPath, errors: result.problems });
  });
}
