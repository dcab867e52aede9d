import { request } from 'undici';
import { localServiceUrl } from '../access/local-names.js';
import { ConfigError, loadConfig, resolveConfigPath } from '../config/load.js';

export const DEFAULT_SERVICE_URL = 'http://127.0.0.1:9090';

import { CliError } from './cli-error.js';
import { cliCommand } from '../hints/cli-command.js';

export { CliError };

export interface AdminTarget {
  url: string;
  token: string | undefined;
}

/**
 * Where the running service is: --url, else the host and port of the config file (when it can
 * be read), else the default. The admin token comes from BALANCER_ADMIN_TOKEN or the config.
 */
export async function adminTarget(options: { url?: string; config?: string }, env: NodeJS.ProcessEnv): Promise<AdminTarget> {
  let url = options.url;
  let token = env.BALANCER_ADMIN_TOKEN;
  const configPath = resolveConfigPath(options.config, env);
  try {
    const config = await loadConfig(configPath, env);
    url ??= localServiceUrl(config.settings.host, config.settings.port);
    token ??= config.settings.admin_token;
  } catch (err) {
    // No config file at all: the defaults are what `npm start` uses. A broken one is worth a word,
    // since its port or admin token would have been used.
    if (err instanceof ConfigError && !err.problems[0]?.includes('(ENOENT)')) {
      process.stderr.write(`warning: ${configPath} could not be read (${err.problems[0]}); using ${url ?? DEFAULT_SERVICE_URL}\n`);
    }
  }
  return { url: (url ?? DEFAULT_SERVICE_URL).replace(/\/+$/, ''), token };
}

export interface AdminResponse<T> {
  status: number;
  body: T;
}

/** Calls the service's admin API; a service that is not running becomes a CliError saying how to start it. */
export async function callAdmin<T = Record<string, unknown>>(
  target: AdminTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<AdminResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let res;
  try {
    res = await request(`${target.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 60_000,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      throw new CliError(
        `The balancer is not running at ${target.url}.\nStart it first: ${cliCommand('serve')}   (or npm start in its folder)\nIf it runs elsewhere, pass --url.`,
      );
    }
    throw new CliError(`Cannot reach the balancer at ${target.url}: ${(err as Error).message}`);
  }
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  if (res.statusCode === 401 || res.statusCode === 403) {
    const message = (parsed as { message?: string })?.message ?? text;
    throw new CliError(`The balancer refused the admin call (${res.statusCode}): ${message}\nSet BALANCER_ADMIN_TOKEN to the configured admin_token.`);
  }
  return { status: res.statusCode, body: parsed as T };
}

/** A successful JSON answer, or a CliError saying what the service answered instead. */
export function expectOk<T>(response: AdminResponse<T>, what: string): T {
  if (response.status === 200 && response.body && typeof response.body === 'object') return response.body;
  const body = response.body as { message?: string; error?: string } | string;
  const detail = typeof body === 'string' ? body.slice(0, 200) : (body?.message ?? body?.error ?? JSON.stringify(body));
  throw new CliError(`${what} failed: the balancer answered ${response.status}: ${detail}`);
}
