import { parseArgs } from 'node:util';
import { adminTarget, callAdmin, CliError, expectOk } from './admin-client.js';
import { table } from './format.js';
import { cliCommand } from '../hints/cli-command.js';

interface KeyInfo {
  name: string;
  source: 'config' | 'created';
  created_at: string | null;
  last_used_at: string | null;
}

const USAGE = `Usage: ${cliCommand('keys add <name> | list | remove <name>')}`;

/** `claude-code-balancer keys add <name> | list | remove <name>`: the client keys of the running service. */
export async function keysCommand(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { url: { type: 'string' }, config: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  const [action, name, ...extra] = parsed.positionals;
  if (extra.length > 0 || !action) throw new CliError(USAGE);
  const target = await adminTarget(parsed.values, process.env);
  switch (action) {
    case 'add': {
      if (!name) throw new CliError(`Usage: ${cliCommand('keys add <name>')}`);
      const response = await callAdmin<{ key?: string; message?: string }>(target, 'POST', '/admin/keys', { name });
      if (response.status !== 201 || !response.body.key) {
        throw new CliError(`Creating the key "${name}" failed (${response.status}): ${response.body.message ?? JSON.stringify(response.body)}`);
      }
      process.stdout.write(
        `${response.body.key}\n\n` +
          `Created the client key "${name}". This is the only time it is shown: store it now.\n` +
          `Clients send it as x-api-key or Authorization: Bearer, e.g.\n` +
          `  ANTHROPIC_BASE_URL=${target.url} ANTHROPIC_AUTH_TOKEN=<the key> claude\n`,
      );
      return;
    }
    case 'list': {
      if (name) throw new CliError(`Usage: ${cliCommand('keys list')}`);
      const body = expectOk(await callAdmin<{ keys: KeyInfo[] }>(target, 'GET', '/admin/keys'), 'Listing the keys');
      if (body.keys.length === 0) {
        process.stdout.write(`No client keys: /v1 is open to local clients. Create one with: ${cliCommand('keys add <name>')}\n`);
        return;
      }
      const rows = body.keys.map((k) => [k.name, k.source === 'config' ? 'providers.yaml' : 'keys add', k.created_at ?? '-', k.last_used_at ?? 'never']);
      process.stdout.write(`${table(['NAME', 'FROM', 'CREATED', 'LAST USED'], rows)}\n`);
      return;
    }
    case 'remove': {
      if (!name) throw new CliError(`Usage: ${cliCommand('keys remove <name>')}`);
      const response = await callAdmin<{ message?: string }>(target, 'DELETE', `/admin/keys/${encodeURIComponent(name)}`);
      if (response.status !== 200) throw new CliError(`Removing the key "${name}" failed (${response.status}): ${response.body.message ?? JSON.stringify(response.body)}`);
      process.stdout.write(`Removed the client key "${name}"; clients using it are refused from now on.\n`);
      return;
    }
    default:
      throw new CliError(`Unknown keys action "${action}".\n${USAGE}`);
  }
}
