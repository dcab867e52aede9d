import { parseArgs } from 'node:util';
import { adminTarget, callAdmin, CliError, expectOk } from './admin-client.js';
import { dashboardUrl } from '../hints/dashboard-url.js';
import { formatDuration, formatPercent, table } from './format.js';
import { LineReader } from './prompt.js';
import { cliCommand } from '../hints/cli-command.js';
import { loginStep } from '../oauth/auth-required.js';

interface StatusToken {
  account_email: string;
  status: string;
  expires_at: string;
  usage_count: number;
  last_used: string;
  last_error: string | null;
  rate_limit?: { utilization_5h: number | null; utilization_7d: number | null; limited_until: string | null; resets_5h_at?: string | null };
}

interface StatusBody {
  total_tokens: number;
  healthy_tokens: number;
  tokens: StatusToken[];
}

const targetOptions = {
  url: { type: 'string' },
  config: { type: 'string' },
} as const;

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...targetOptions, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** An account that cannot refresh has no meaningful countdown: its token will not be renewed. */
function expiresIn(t: StatusToken, now: number): string {
  if (t.status === 'needs_login') return 'login needed';
  if (t.status === 'banned') return '—';
  return formatDuration(Date.parse(t.expires_at) - now);
}

/** When a limited account comes back, else when its 5h window resets. */
function resets(t: StatusToken, now: number): string {
  const back = t.rate_limit?.limited_until;
  if (back) return `back in ${formatDuration(Date.parse(back) - now)}`;
  const window = t.rate_limit?.resets_5h_at;
  return window ? `5h in ${formatDuration(Date.parse(window) - now)}` : '-';
}

/** `claude-code-balancer accounts`: where every account stands. */
export async function accountsCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {});
  const target = await adminTarget(values, process.env);
  const body = expectOk(await callAdmin<StatusBody>(target, 'GET', '/oauth/status'), 'Listing the accounts');
  if (body.tokens.length === 0) {
    process.stdout.write(`No Claude account is logged in: ${loginStep(target.url)}\n`);
    return;
  }
  const now = Date.now();
  const rows = body.tokens.map((t) => [
    t.account_email,
    t.status,
    expiresIn(t, now),
    String(t.usage_count),
    t.last_used,
    formatPercent(t.rate_limit?.utilization_5h),
    formatPercent(t.rate_limit?.utilization_7d),
    resets(t, now),
  ]);
  process.stdout.write(`${table(['EMAIL', 'STATUS', 'EXPIRES IN', 'USES', 'LAST USED', '5H', '7D', 'RESETS'], rows)}\n`);
  process.stdout.write(`${body.healthy_tokens} of ${body.total_tokens} accounts can serve. Dashboard: ${dashboardUrl(target.url)}\n`);
  for (const t of body.tokens) {
    if (t.status === 'needs_login') process.stdout.write(`${t.account_email} needs a new login: ${cliCommand(`login --email ${t.account_email}`)}\n`);
    if (t.status === 'banned') process.stdout.write(`${t.account_email} is banned (${t.last_error ?? 'its organization may not use OAuth'}); it is never refreshed. Remove it: ${cliCommand(`logout ${t.account_email}`)}\n`);
  }
}

/** `claude-code-balancer logout <email> | --all [--yes]`. */
export async function logoutCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { all: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' } });
  const target = await adminTarget(values, process.env);
  if (values.all) {
    const body = expectOk(await callAdmin<StatusBody>(target, 'GET', '/oauth/status'), 'Listing the accounts');
    if (body.total_tokens === 0) {
      process.stdout.write('No account to remove.\n');
      return;
    }
    if (!values.yes) {
      const reader = new LineReader();
      const answer = await reader.ask(`Remove all ${body.total_tokens} accounts (${body.tokens.map((t) => t.account_email).join(', ')})? [y/N] `);
      reader.close();
      if (!answer || !/^y(es)?$/i.test(answer.trim())) {
        process.stdout.write('Nothing removed.\n');
        return;
      }
    }
    const removed = expectOk(await callAdmin<{ removed: number }>(target, 'DELETE', '/oauth/tokens'), 'Removing the accounts');
    process.stdout.write(`Removed ${removed.removed} account${removed.removed === 1 ? '' : 's'}.\n`);
    return;
  }
  const email = positionals[0];
  if (!email) throw new CliError(`Usage: ${cliCommand('logout <email> | --all [--yes]')}`);
  const response = await callAdmin<{ message?: string; remaining?: number }>(target, 'DELETE', `/oauth/tokens/${encodeURIComponent(email)}`);
  if (response.status === 404) throw new CliError(response.body.message ?? `No account ${email}.`);
  const body = expectOk(response, `Removing ${email}`);
  process.stdout.write(`Removed ${email}. ${body.remaining ?? 0} account(s) left.\n`);
}

/** `claude-code-balancer refresh <email>`: refresh an account's token now. */
export async function refreshCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {});
  const email = positionals[0];
  if (!email) throw new CliError(`Usage: ${cliCommand('refresh <email>')}`);
  const target = await adminTarget(values, process.env);
  const { status, body } = await callAdmin<{ expires_at?: string; message?: string; account_status?: string }>(
    target,
    'POST',
    `/oauth/refresh/${encodeURIComponent(email)}`,
  );
  if (status !== 200) {
    const hint = body.account_status === 'needs_login' ? `\nLog in again: ${cliCommand(`login --email ${email}`)}` : '';
    throw new CliError(`Refresh of ${email} failed: ${body.message ?? status}${hint}`);
  }
  process.stdout.write(`Refreshed ${email}; the token now expires ${body.expires_at} (in ${formatDuration(Date.parse(body.expires_at!) - Date.now())}).\n`);
}
