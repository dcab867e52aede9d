import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { OutgoingHeaders } from '../providers/credentials.js';

/** RFC 9110 §7.6.1 connection-specific headers: they describe one hop and must not be forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Request headers the service sets itself, or that hold the client's secrets for this service
 * (its client key, the admin token, cookies of localhost): the client's value never goes upstream.
 */
const REPLACED_ON_REQUEST = new Set([
  'host',
  'content-length',
  'accept-encoding',
  'x-api-key',
  'authorization',
  'expect',
  'x-admin-token',
  'cookie',
]);

/** CORS is this service's decision (settings.allowed_origins), never the upstream's. */
const DECIDED_HERE_ON_RESPONSE = new Set([
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-headers',
  'access-control-allow-methods',
  'access-control-allow-private-network',
  'access-control-expose-headers',
  'access-control-max-age',
]);

export const ANTHROPIC_VERSION = '2023-06-01';

function connectionListed(headers: IncomingHttpHeaders): Set<string> | undefined {
  const value = headers.connection;
  // What nearly every request and response says: nothing listed.
  if (!value || value === 'keep-alive' || value === 'close') return undefined;
  const listed = value
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'close' && s !== 'keep-alive');
  return listed.length ? new Set(listed) : undefined;
}

/**
 * Headers for the upstream request: the client's, less hop-by-hop, host, length and credentials;
 * plus anthropic-version when missing and accept-encoding: identity (compressed SSE breaks relays).
 * The credential is applied afterwards by the provider's credential source.
 */
export function upstreamRequestHeaders(client: IncomingHttpHeaders, bodyLength: number | undefined): OutgoingHeaders {
  const out: OutgoingHeaders = {};
  const listed = connectionListed(client);
  for (const name in client) {
    if (HOP_BY_HOP.has(name) || REPLACED_ON_REQUEST.has(name) || listed?.has(name)) continue;
    const value = client[name];
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (out['anthropic-version'] === undefined) out['anthropic-version'] = ANTHROPIC_VERSION;
  out['accept-encoding'] = 'identity';
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  return out;
}

/** Headers for the client response: the upstream's, less hop-by-hop (request-id and rate-limit headers pass through). */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, provider: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = connectionListed(upstream);
  for (const name in upstream) {
    if (HOP_BY_HOP.has(name) || DECIDED_HERE_ON_RESPONSE.has(name) || listed?.has(name)) continue;
    const value = upstream[name];
    if (value !== undefined) out[name] = value;
  }
  out['x-balancer-provider'] = provider;
  return out;
}

export function isEventStream(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('text/event-stream');
}

/** A value Node accepts in a header: visible ASCII as it is, anything else percent-encoded. */
export function headerValue(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
}
