import type { FastifyInstance } from 'fastify';
import type { Service } from '../service.js';

export function healthRoutes(app: FastifyInstance, service: Service): void {
  app.get('/health', async () => {
    const providers = service.providers.health();
    const { store } = service;
    const storeState = store.state ?? 'ok';
    return {
      status: providers.some((p) => p.healthy) && storeState !== 'disconnected' ? 'ok' : 'degraded',
      providers: providers.map(({ name, healthy, cooldown_until }) => ({ name, healthy, cooldown_until })),
      store: { kind: store.kind, state: storeState },
    };
  });
}
