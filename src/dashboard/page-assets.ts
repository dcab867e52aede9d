import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The dashboard's files, shipped in the package (assets/dashboard/, listed in package.json
 * `files`) and served by the service itself: no CDN, works offline. Only the files named here
 * are served, so no request path ever reaches the file system.
 */
const ASSET_DIR = fileURLToPath(new URL('../../assets/dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const ASSET_FILES = [
  'dashboard.css',
  'app.js',
  'api.js',
  'accounts.js',
  'login.js',
  'charts.js',
  'activity.js',
  'usage.js',
  'format.js',
  'favicon.svg',
] as const;

/**
 * No inline script or style, nothing from elsewhere, never framed: the page can only talk to
 * this service, and an injected string cannot run.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every dashboard response (the page, its files and its API). */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface Asset {
  type: string;
  body: Buffer;
}

/** The files, read once (they are part of the installed package and do not change under it). */
export function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of ASSET_FILES) {
    assets.set(name, { type: TYPES[name.slice(name.lastIndexOf('.'))], body: readFileSync(ASSET_DIR + name) });
  }
  return assets;
}

const PAGE = readFileSync(`${ASSET_DIR}index.html`, 'utf8');
if (!PAGE.includes('{{csrf}}')) throw new Error('assets/dashboard/index.html lacks the {{csrf}} placeholder');

/** The page with its own CSRF token (a meta element: data, not script). */
export function renderPage(csrf: string): string {
  // The token is base64url and '.', nothing that needs escaping in an attribute.
  return PAGE.replace('{{csrf}}', csrf);
}
