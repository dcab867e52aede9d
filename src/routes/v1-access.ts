import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { isLocalHostHeader, isLocalOrigin, isLoopbackAddress, isLoopbackListenHost } from '../access/local-names.js';
import { anthropicErrorBody, type AnthropicErrorType } from '../anthropic/errors.js';
import type { Service } from '../service.js';
import { cliCommand } from '../hints/cli-command.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The name (never the value) of the client key the request presented, when it matched one. */
    clientKey: string | null;
  }
}

const HOW_TO_SEND = 'Send it as x-api-key or as Authorization: Bearer (Claude Code: ANTHROPIC_AUTH_TOKEN=<key> or ANTHROPIC_API_KEY=<key>).';
const HOW_TO_GET = `Create one on the balancer's machine with \`${cliCommand('keys add <name>')}\` (or list one in settings.client_keys).`;

function refuse(reply: FastifyReply, type: AnthropicErrorType, status: number, message: string): void {
  void reply.code(status).type('application/json').send(anthropicErrorBody(type, message));
}

function bearer(value: string | undefined): string | undefined {
  return value !== undefined && /^bearer /i.test(value) ? value.slice(7).trim() : undefined;
}

const single = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);

/** Headers a browser needs to let a page of an allowed origin read the answer (CORS, no credentials mode). */
function allowOrigin(reply: FastifyReply, origin: string): void {
  reply.raw.setHeader('access-control-allow-origin', origin);
  reply.raw.setHeader('access-control-expose-headers', '*');
  reply.raw.setHeader('vary', 'Origin');
}

function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
}

/** Answers a CORS preflight of an allowed origin: any method, the headers it asks for. */
function answerPreflight(request: FastifyRequest, reply: FastifyReply): void {
  const headers: Record<string, string> = {
    'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
    'access-control-max-age': '600',
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  };
  const asked = single(request.headers['access-control-request-headers']);
  if (asked) headers['access-control-allow-headers'] = asked;
  // Chrome's Private Network Access: a public page reaching a loopback service must be allowed explicitly.
  if (request.headers['access-control-request-private-network'] === 'true') headers['access-control-allow-private-network'] = 'true';
  void reply.code(204).headers(headers).send();
}

/**
 * Who may use /v1 (the pool's accounts): never a web page the user happens to visit. A request
 * that reached a loopback address must name this machine in Host (else it is DNS rebinding); a
 * browser request from another site (Origin, Sec-Fetch-Site) is refused unless its origin is in
 * settings.allowed_origins; and when client keys exist, or the service listens beyond loopback,
 * the request must present a key.
 */
export function v1AccessGuard(service: Service): onRequestHookHandler {
  return (request, reply, done) => {
    const { settings } = service.config;
    const { headers } = request;

    const host = single(headers.host);
    if (host !== undefined && isLoopbackAddress(request.socket.localAddress) && !isLocalHostHeader(host)) {
      return refuse(
        reply,
        'permission_error',
        403,
        'This request reached the balancer on loopback under a name that is not localhost, 127.x.x.x or [::1] (a web page using DNS rebinding does that). Use http://localhost:PORT.',
      );
    }

    const origin = single(headers.origin);
    if (origin !== undefined && settings.allowed_origins.includes(origin.toLowerCase())) {
      allowOrigin(reply, origin);
      if (isPreflight(request)) return answerPreflight(request, reply);
    } else if ((origin !== undefined && !isLocalOrigin(origin)) || headers['sec-fetch-site'] === 'cross-site' || (origin !== undefined && isPreflight(request))) {
      return refuse(
        reply,
        'permission_error',
        403,
        'Web pages may not use this balancer: the request comes from a browser page of another origin. To allow one, add it to settings.allowed_origins.',
      );
    }

    const keys = service.clientKeys;
    const exposed = !isLoopbackListenHost(settings.host);
    if (keys.any || exposed) {
      const presented = [single(headers['x-api-key']), bearer(single(headers.authorization))];
      const name = keys.match(presented);
      if (name === undefined) {
        let message: string;
        if (!keys.any) {
          message = `This balancer listens on ${settings.host}, beyond this machine, so /v1 needs a client key, and none exists yet. ${HOW_TO_GET} ${HOW_TO_SEND}`;
        } else if (presented.some((p) => p)) {
          message = `The key sent is not a client key of this balancer. ${HOW_TO_GET} ${HOW_TO_SEND}`;
        } else {
          message = `This balancer needs a client key. ${HOW_TO_SEND} ${HOW_TO_GET}`;
        }
        return refuse(reply, 'authentication_error', 401, message);
      }
      request.clientKey = name;
    }
    done();
  };
}
