import { isIP } from 'node:net';

/**
 * What counts as "this machine": one place for the loopback rules of peers, Host and Origin
 * headers, listen hosts and the service's own URL. Names are compared as literals (node:net
 * isIP), never by prefix: `127.0.0.1.attacker.example` is a DNS name an attacker controls, and
 * a page that rebinds it to 127.0.0.1 must not pass for a local tool.
 */

function isLoopbackIPv4(text: string): boolean {
  return isIP(text) === 4 && text.startsWith('127.');
}

/** A socket peer or local address on loopback: 127.0.0.0/8, ::1, or IPv4-mapped 127.x. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const mapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return isLoopbackIPv4(mapped);
}

/** A host name (without port) that is exactly `localhost`, an IPv4 literal in 127.0.0.0/8, or `[::1]`. */
function isLocalHostname(hostname: string): boolean {
  return hostname.toLowerCase() === 'localhost' || hostname === '[::1]' || isLoopbackIPv4(hostname);
}

/**
 * A Host header value (`name` or `name:port`) naming this machine exactly. The port, when present,
 * must be a port number; anything else (a trailing dot, userinfo, a path) is not a local name.
 */
export function isLocalHostHeader(host: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  if (!match) return false;
  if (match[2] !== undefined && Number(match[2]) > 65535) return false;
  return isLocalHostname(match[1]);
}

/** An Origin header value (`http[s]://host[:port]`, nothing after it) whose host is a local name. */
export function isLocalOrigin(origin: string): boolean {
  const match = /^https?:\/\/(.+)$/i.exec(origin);
  return match !== null && isLocalHostHeader(match[1]);
}

/** A listen host (settings.host, --host) that only this machine can reach. */
export function isLoopbackListenHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || host === '[::1]' || isLoopbackAddress(host);
}

/** The URL a local client uses to reach a service listening on host:port (a wildcard address is reached through loopback). */
export function localServiceUrl(host: string, port: number): string {
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${local.includes(':') && !local.startsWith('[') ? `[${local}]` : local}:${port}`;
}
