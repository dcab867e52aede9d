import type { FastifyReply, FastifyRequest } from 'fastify';

/** The one shape of every admin API error (/oauth/*, /admin/*): what the CLI and scripts read. */
export function adminError(reply: FastifyReply, code: number, error: string, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(code).type('application/json').send({ ...extra, status: 'error', error, message });
}

/** Admin routes answer in the admin shape; /v1 in Anthropic's. */
export function isAdminRequest(request: FastifyRequest): boolean {
  return /^\/(oauth|admin)(\/|$|\?)/.test(request.url);
}
