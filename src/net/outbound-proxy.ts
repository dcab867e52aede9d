import { EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';

/** How outbound calls leave: directly, through one proxy URL, or per the HTTP(S)_PROXY/NO_PROXY environment. */
export type ProxyRoute =
  | { kind: 'direct' }
  | { kind: 'url'; url: string }
  | { kind: 'env'; httpProxy?: string; httpsProxy?: string; noProxy?: string };

/** The value of a provider's `proxy` key that means "connect directly, whatever settings.proxy says". */
export const NO_PROXY_VALUE = 'none';

/** A provider's own proxy wins, then settings.proxy, then the environment (lower case first, as undici reads it). */
export function proxyRoute(providerProxy: string | undefined, settingsProxy: string | undefined, env: NodeJS.ProcessEnv): ProxyRoute {
  const chosen = providerProxy ?? settingsProxy;
  if (chosen === NO_PROXY_VALUE) return { kind: 'direct' };
  if (chosen) return { kind: 'url', url: chosen };
  const httpProxy = env.http_proxy || env.HTTP_PROXY || undefined;
  const httpsProxy = env.https_proxy || env.HTTPS_PROXY || undefined;
  if (!httpProxy && !httpsProxy) return { kind: 'direct' };
  return { kind: 'env', httpProxy, httpsProxy, noProxy: env.no_proxy ?? env.NO_PROXY ?? '' };
}

/** A proxy URL without its credentials: http://***@host:3128. */
export function redactProxyUrl(raw: string): string {
  const url = URL.parse(raw);
  if (!url) return '(invalid proxy URL)';
  const auth = url.username || url.password ? '***@' : '';
  return `${url.protocol}//${auth}${url.host}`;
}

export function describeRoute(route: ProxyRoute): string {
  if (route.kind === 'direct') return 'direct';
  if (route.kind === 'url') return `proxy ${redactProxyUrl(route.url)}`;
  const parts = [];
  if (route.httpsProxy) parts.push(`HTTPS_PROXY ${redactProxyUrl(route.httpsProxy)}`);
  if (route.httpProxy) parts.push(`HTTP_PROXY ${redactProxyUrl(route.httpProxy)}`);
  if (route.noProxy) parts.push(`NO_PROXY ${route.noProxy}`);
  return `environment: ${parts.join(', ')}`;
}

/**
 * A keep-alive dispatcher for a proxied route (both agents keep a pool per origin; credentials in
 * the URL become Proxy-Authorization). Not for 'direct', which keeps its own pools.
 */
export function proxyDispatcher(route: Exclude<ProxyRoute, { kind: 'direct' }>, agent: { connectTimeoutMs: number; keepAliveTimeout: number }): Dispatcher {
  const common = { keepAliveTimeout: agent.keepAliveTimeout, connect: { timeout: agent.connectTimeoutMs } };
  if (route.kind === 'url') return new ProxyAgent({ ...common, uri: route.url });
  return new EnvHttpProxyAgent({ ...common, httpProxy: route.httpProxy, httpsProxy: route.httpsProxy, noProxy: route.noProxy });
}
