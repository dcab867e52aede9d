// The dashboard as a browser's page sees it, over plain HTTP: the page's cookie and CSRF token,
// and calls to its API with the headers a same-origin fetch sends.
import { request } from 'undici';
import { readResult } from './pool.js';

export interface PageVisit {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  html: string;
  /** "ccb_dashboard=<id>" as a browser would send it back (the cookie the page set, or the one sent). */
  cookie: string | undefined;
  csrf: string | undefined;
}

/** GET / as a browser navigation. */
export async function visitPage(url: string, headers: Record<string, string> = {}): Promise<PageVisit> {
  const res = await request(`${url}/`, { headers: { accept: 'text/html,application/xhtml+xml', ...headers } });
  const html = await res.body.text();
  const setCookie = res.headers['set-cookie'];
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return {
    status: res.statusCode,
    headers: res.headers,
    html,
    cookie: first ? first.split(';')[0] : headers.cookie,
    csrf: /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1],
  };
}

export interface CallOptions {
  cookie?: string;
  csrf?: string;
  /** The Origin header; the service's own origin unless given (null: none). */
  origin?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function dashboardCall(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, opts: CallOptions = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
  const origin = opts.origin === undefined ? url : opts.origin;
  if (origin !== null && method !== 'GET') headers.origin = origin;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  return readResult(await request(`${url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) }));
}
