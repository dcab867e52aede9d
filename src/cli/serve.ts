import { parseArgs } from 'node:util';
import { isLoopbackListenHost, localServiceUrl } from '../access/local-names.js';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, resolveConfigPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Service } from '../service.js';
import { statusName } from '../oauth/account.js';
import { dashboardUrl } from '../hints/dashboard-url.js';
import { loginStep } from '../oauth/auth-required.js';
import { StoreError } from '../store/token-store.js';
import type { HangupReloads } from './hangups.js';
import { serveUsage } from './usage.js';
import { cliCommand } from '../hints/cli-command.js';

const SHUTDOWN_GRACE_MS = 10_000;
/** After the grace period: time to store what is pending (a rotated refresh token) before a hard exit. */
const HARD_EXIT_EXTRA_MS = 20_000;

function fail(code: number, lines: string[]): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(code);
}

/** `claude-code-balancer serve`: load the config, start the service, handle reloads and shutdown. */
export async function serve(argv: string[], hangups: HangupReloads): Promise<void> {
  let values: { config?: string; port?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    fail(2, [(err as Error).message, serveUsage()]);
  }
  if (values.help) {
    process.stdout.write(`${serveUsage()}\n`);
    return;
  }
  const configPath = resolveConfigPath(values.config, process.env);
  let config: Config;
  try {
    config = await loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) fail(2, [...err.problems, `The service did not start: fix ${configPath} and run it again.`]);
    throw err;
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(2, [`--port: "${values.port}" is not a port number (0-65535)`]);
  }
  const overrides = {
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
  };
  Object.assign(config.settings, overrides);
  const { host, port, admin_token } = config.settings;
  if (!isLoopbackListenHost(host) && !admin_token) {
    fail(2, [
      `Refusing to listen on ${host}: the admin routes (/oauth/*, /admin/*) control every account, so a host other than loopback needs settings.admin_token in ${configPath}.`,
    ]);
  }

  let service: Service;
  try {
    service = await Service.create({ config, configPath, overrides });
  } catch (err) {
    if (err instanceof StoreError) fail(1, [`Token store: ${err.message}`, 'The service did not start.']);
    if (err instanceof ConfigError) fail(2, [...err.problems, `The service did not start: fix ${configPath} and run it again.`]);
    throw err;
  }
  const app = buildApp(service);
  try {
    // A deep accept queue: a burst of parallel streams must not lose SYNs (the kernel caps it at somaxconn).
    await app.listen({ host, port, backlog: 4096 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      fail(1, [`Cannot listen on ${host}:${port}: the port is in use. Is the balancer already running? curl ${localServiceUrl(host, port)}/health`]);
    }
    fail(1, [`Cannot listen on ${host}:${port}: ${(err as Error).message}`]);
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  service.setListenUrl(localServiceUrl(host, boundPort));
  printStartup(service);

  hangups.ready(() => {
    void service.reload().then((result) => {
      if (!result.ok) process.stderr.write(`Reload refused; the running config stays in force:\n${result.problems.join('\n')}\n`);
    });
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal: the user does not want to wait.
      process.stderr.write('Stopping now.\n');
      process.exit(130);
    }
    stopping = true;
    service.logger.info({ signal }, 'shutting down: no new connections, in-flight requests may finish');
    const force = setTimeout(() => {
      service.logger.warn('in-flight requests still running after 10 s; ending them');
      void service.abortUpstreams();
      app.server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    // Persisting pending writes may still take a keyring or token call; never more than this.
    setTimeout(() => {
      service.logger.error('shutdown did not complete in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + HARD_EXIT_EXTRA_MS).unref();
    // Keep-alive connections that finish their last request during the grace period are closed
    // as soon as they go idle, so the process does not wait on clients that keep sockets open.
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    reaper.unref();
    void app
      .close()
      .then(() => service.close())
      .then(
        () => process.exit(0),
        (err) => {
          process.stderr.write(`Shutdown error: ${(err as Error).message}\n`);
          process.exit(0);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The gist of a long explanation; the whole of it is in the log. */
function briefly(reason: string): string {
  if (reason.length <= 100) return reason;
  const colon = reason.indexOf(':');
  return `${colon > 0 && colon < 60 ? reason.slice(0, colon) : reason.slice(0, 60)}; details in the log`;
}

/** What a user needs to see once the service is up (never a token). */
function printStartup(service: Service): void {
  const accounts = service.oauth.pool.list();
  const now = service.oauth.pool.clock.now();
  const hasOAuth = service.config.providers.some((p) => p.enabled && p.auth_value === 'oauth');
  const lines = [
    `claude-code-balancer listening on ${service.url}`,
    `  dashboard: ${dashboardUrl(service.url)} (log in accounts, see the pool and its usage)`,
    `  config:   ${service.configPath}`,
    `  store:    ${service.oauth.pool.store.kind}, ${service.oauth.pool.store.location} (${briefly(service.storeReason)})`,
    `  providers: ${service.providers.all().map((p) => p.name).join(', ')}`,
    `  outbound: ${service.outboundRoutes().join('; ')}`,
    `  pid:      ${process.pid}; after editing the config, reload it: kill -HUP ${process.pid}   or   curl -X POST ${service.url}/admin/reload`,
  ];
  if (hasOAuth) {
    if (accounts.length === 0) {
      lines.push(`  accounts: none logged in yet: ${loginStep(service.url)}`);
    } else {
      lines.push(`  accounts: ${accounts.length}`);
      for (const a of accounts) {
        lines.push(`    - ${a.email} (${statusName(a.availability(now))}, token expires ${new Date(a.record.expires_at).toISOString()})`);
      }
    }
  }
  const keys = service.clientKeys.list();
  if (keys.length > 0) {
    lines.push(`  client keys: ${keys.map((k) => k.name).join(', ')} (/v1 needs one)`);
    lines.push(`  use it:   ANTHROPIC_BASE_URL=${service.url} ANTHROPIC_AUTH_TOKEN=<client key> claude`);
  } else if (!isLoopbackListenHost(service.config.settings.host)) {
    lines.push(`  client keys: none yet; /v1 answers 401 until you create one: ${cliCommand('keys add <name>')}`);
  } else {
    lines.push(`  use it:   ANTHROPIC_BASE_URL=${service.url} ANTHROPIC_AUTH_TOKEN=anything claude`);
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  // The same banner a client's request would cause, so the first login is one copy-paste away.
  if (hasOAuth && accounts.length === 0) service.oauth.pool.exhausted('no Claude account is logged in yet');
  service.logger.info(
    { url: service.url, config: service.configPath, store: service.oauth.pool.store.kind, accounts: accounts.map((a) => a.email) },
    'service started',
  );
}
