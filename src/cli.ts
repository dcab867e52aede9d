#!/usr/bin/env node
// Only small modules here: `serve` catches SIGHUP before anything heavy is imported.
import { CliError } from './cli/cli-error.js';
import { HangupReloads } from './cli/hangups.js';
import { serveUsage } from './cli/usage.js';
import { cliCommand } from './hints/cli-command.js';

const usage = () => `Usage: ${cliCommand('<command>')} [options]

Commands:
  serve                     start the service (what \`npm start\` runs)
  login [--email E] [--no-browser]
                            log a Claude account in to the running service
  accounts                  list the accounts, their status, expiry, usage and limits
  logout <email> | --all [--yes]
                            remove one account, or all of them (asks first unless --yes)
  refresh <email>           refresh an account's token now
  keys add <name> | list | remove <name>
                            client keys for /v1: create one (shown once), list them, remove one

Options of login/accounts/logout/refresh/keys:
  --url URL      the running service (default: host and port of the config, else http://127.0.0.1:9090)
  --config PATH  the config to read the address and admin_token from (default: $BALANCER_CONFIG or ./providers.yaml)
  The admin token is taken from BALANCER_ADMIN_TOKEN or the config's settings.admin_token.

${serveUsage()}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Commands are loaded on demand: the account commands start in a fraction of the server's import time.
    case 'serve': {
      const hangups = new HangupReloads();
      await (await import('./cli/serve.js')).serve(rest, hangups);
      return -1;
    }
    case 'login':
      return (await import('./cli/login.js')).loginCommand(rest);
    case 'accounts':
      await (await import('./cli/account-commands.js')).accountsCommand(rest);
      return 0;
    case 'logout':
      await (await import('./cli/account-commands.js')).logoutCommand(rest);
      return 0;
    case 'refresh':
      await (await import('./cli/account-commands.js')).refreshCommand(rest);
      return 0;
    case 'keys':
      await (await import('./cli/key-commands.js')).keysCommand(rest);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${usage()}\n`);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${usage()}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running; every other command ends here.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`claude-code-balancer: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
