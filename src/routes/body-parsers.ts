import type { FastifyInstance } from 'fastify';

/** A request body as received (forwarded byte for byte) and, for JSON, parsed (for routing decisions). */
export interface ParsedBody {
  raw: Buffer;
  json?: unknown;
}

export class InvalidJsonError extends Error {
  readonly statusCode = 400;
}

/** Bodies are kept as bytes so they go upstream unchanged and can be sent again on failover. */
export function bodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/(.+\+)?json/i, { parseAs: 'buffer' }, (_req, body, done) => {
    const raw = body as Buffer;
    if (raw.length === 0) return done(null, { raw });
    try {
      done(null, { raw, json: JSON.parse(raw.toString('utf8')) });
    } catch (err) {
      done(new InvalidJsonError(`The request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, { raw: body as Buffer }));
}
