import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ClientKeyError } from '../access/client-keys.js';
import { CLIENT_KEY_NAME } from '../config/schema.js';
import type { Service } from '../service.js';
import { StoreError } from '../store/token-store.js';
import { jsonOf } from './admin-body.js';
import type { ParsedBody } from './receive-body.js';
import { adminError } from './admin-errors.js';

const createBody = z.object({
  name: z
    .string({ error: 'name is required, e.g. {"name": "laptop"}' })
    .regex(CLIENT_KEY_NAME, 'name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
});

/** Client keys for /v1 (behind the admin access guard): create (the value is shown once), list, remove. */
export function keyRoutes(app: FastifyInstance, service: Service): void {
  const keys = () => service.clientKeys;

  app.get('/admin/keys', async () => ({ keys: keys().list() }));

  app.post('/admin/keys', async (request, reply) => {
    const parsed = createBody.safeParse(jsonOf(request.body as ParsedBody | undefined));
    if (!parsed.success) {
      return adminError(reply, 400, 'invalid_request', parsed.error.issues.map((i) => i.message).join('; '));
    }
    try {
      const created = await keys().create(parsed.data.name, service.config);
      service.logger.info({ client_key: created.name }, 'client key created');
      return reply.code(201).send({
        ...created,
        message: 'This is the only time the key is shown. Clients send it as x-api-key or Authorization: Bearer.',
        usage: `ANTHROPIC_BASE_URL=${service.url} ANTHROPIC_AUTH_TOKEN=${created.key} claude`,
      });
    } catch (err) {
      return keyError(reply, err);
    }
  });

  app.delete('/admin/keys/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    try {
      await keys().remove(name);
      service.logger.info({ client_key: name }, 'client key removed');
      return { status: 'removed', name };
    } catch (err) {
      return keyError(reply, err);
    }
  });
}

function keyError(reply: FastifyReply, err: unknown) {
  if (err instanceof ClientKeyError) return adminError(reply, err.status, err.status === 404 ? 'not_found' : 'conflict', err.message);
  if (err instanceof StoreError) return adminError(reply, 503, 'store_failed', `Token store: ${err.message}`);
  throw err;
}
