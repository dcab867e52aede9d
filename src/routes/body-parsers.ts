import type { FastifyInstance } from 'fastify';
import { BodyBuffers } from './body-buffers.js';
import { InflightBodies } from './inflight-bodies.js';
import { receiveBody } from './receive-body.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Body bytes this request holds in the service's InflightBodies, given back when its response is over. */
    heldBodyBytes: number;
    /** The BodyBuffers buffer this request's body is in, given back when its response is over. */
    pooledBody: Buffer | null;
  }
}

/**
 * Bodies are kept as bytes so they go upstream unchanged and can be sent again on failover. A
 * JSON body must be an object (its first byte after whitespace is `{`); anything deeper is the
 * upstream's to judge, so no body is ever parsed whole here. Every byte held is counted against
 * settings.max_inflight_body_bytes while it arrives; past it the request gets 529.
 */
export function bodyParsers(app: FastifyInstance, maxInflightBytes: () => number): void {
  const inflight = new InflightBodies(maxInflightBytes);
  const buffers = new BodyBuffers();
  app.decorateRequest('heldBodyBytes', 0);
  app.decorateRequest('pooledBody', null);
  app.addHook('onRequest', (request, reply, done) => {
    const length = request.headers['content-length'];
    if ((length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined) {
      reply.raw.once('close', () => {
        inflight.release(request.heldBodyBytes);
        request.heldBodyBytes = 0;
        if (request.pooledBody) buffers.give(request.pooledBody);
        request.pooledBody = null;
      });
    }
    done();
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/(.+\+)?json/i, (request, payload, done) =>
    receiveBody(request, payload, true, inflight, buffers, done),
  );
  app.addContentTypeParser('*', (request, payload, done) => receiveBody(request, payload, false, inflight, buffers, done));
}
