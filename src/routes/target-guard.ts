import type { FastifyInstance } from 'fastify';
import { anthropicErrorBody } from '../anthropic/errors.js';
import { forwardingProblem, targetProblem } from '../proxy/request-target.js';

/** The /v1 route: everything it matches goes upstream. */
export const FORWARDED_ROUTE = '/v1/*';

/**
 * Refuses, on every route and before any other check, a request target that is not a plain
 * origin-form path (`src/proxy/request-target.ts`). The router strips an absolute-form target's
 * scheme and host, so `GET http://localhost/oauth/status` with a foreign Host would otherwise be
 * routed as `/oauth/status`; the raw target is what is judged here.
 */
export function targetGuard(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const target = request.raw.url ?? '';
    const problem = request.routeOptions.url === FORWARDED_ROUTE ? forwardingProblem(target) : targetProblem(target);
    if (problem === undefined) return done();
    void reply.code(400).type('application/json').send(anthropicErrorBody('invalid_request_error', problem));
  });
}
