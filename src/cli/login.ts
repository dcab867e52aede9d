import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { adminTarget, callAdmin, CliError, type AdminTarget } from './admin-client.js';
import { formatClockTime, formatDuration, formatValidity } from './format.js';
import { LineReader } from './prompt.js';
import { cliCommand } from '../hints/cli-command.js';

interface GenerateUrlBody {
  login_url: string;
  state: string;
  expires_at: string;
}

interface ExchangeBody {
  status: string;
  account_email?: string;
  expires_at?: string;
  total_accounts?: number;
  message?: string;
  error?: string;
  token_email?: string;
  error_description?: string;
}

/** A desktop session can show a browser; a server or SSH session cannot. */
function hasDesktop(env: NodeJS.ProcessEnv): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // The URL is printed anyway.
  }
}

async function newLogin(target: AdminTarget, noBrowser: boolean): Promise<GenerateUrlBody> {
  const { status, body } = await callAdmin<GenerateUrlBody>(target, 'GET', '/oauth/generate-url');
  if (status !== 200) throw new CliError(`The balancer could not start a login (HTTP ${status}).`);
  process.stderr.write(
    `\nOpen this URL in a browser and sign in to your Claude account:\n\n  ${body.login_url}\n\n` +
      `This URL is valid for ${formatValidity(Date.parse(body.expires_at), Date.now())}.\n`,
  );
  if (!noBrowser && hasDesktop(process.env)) openBrowser(body.login_url);
  process.stderr.write('After signing in, the page shows a code (CODE#STATE). Copy it.\n');
  return body;
}

/**
 * `claude-code-balancer login`: get an authorize URL from the service, read the code the user
 * pastes, exchange it; on a wrong or expired code say why and ask again.
 */
export async function loginCommand(argv: string[]): Promise<number> {
  let values: { url?: string; config?: string; email?: string; 'no-browser'?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { url: { type: 'string' }, config: { type: 'string' }, email: { type: 'string' }, 'no-browser': { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\nUsage: ${cliCommand('login [--email E] [--no-browser] [--url URL]')}`);
  }
  const target = await adminTarget(values, process.env);
  process.once('SIGINT', () => {
    process.stderr.write('\nLogin cancelled; nothing changed.\n');
    process.exit(130);
  });
  let login = await newLogin(target, Boolean(values['no-browser']));
  const reader = new LineReader();
  try {
    for (;;) {
      const line = await reader.ask('Paste the code (or the callback URL), or an empty line to cancel: ');
      if (line === null || line.trim() === '') {
        process.stderr.write('\nLogin cancelled; nothing changed.\n');
        return 1;
      }
      const pasted = line.trim();
      const code = pasted.includes('#') || /^https?:/i.test(pasted) ? pasted : `${pasted}#${login.state}`;
      const { status, body } = await callAdmin<ExchangeBody>(target, 'POST', '/oauth/exchange-code', {
        code,
        ...(values.email ? { account_email: values.email } : {}),
      });
      if (status === 200 && body.status === 'success') {
        const expiresIn = formatDuration(Date.parse(body.expires_at!) - Date.now());
        process.stdout.write(
          `Logged in ${body.account_email}. Its token expires ${body.expires_at} (in ${expiresIn}) and is refreshed automatically.\n` +
            `The pool now holds ${body.total_accounts} account${body.total_accounts === 1 ? '' : 's'}.\n`,
        );
        return 0;
      }
      if (body.error === 'account_email_mismatch') {
        process.stderr.write(
          `\nThis code signs in ${body.token_email}, not ${body.account_email}: nothing was stored. ` +
            `Run login again without --email, or run it again and sign in as ${body.account_email}.\n`,
        );
        return 1;
      }
      if (body.error === 'no_pending_login') {
        // The service's message is for API users (it names the HTTP call); here the next step is ours.
        process.stderr.write(
          '\nThat code does not match the current login: it is wrong, was already used, or expired. A new login is started.\n',
        );
        login = await newLogin(target, true);
        continue;
      }
      process.stderr.write(`\nThat did not work: ${body.message ?? body.error_description ?? body.error ?? `HTTP ${status}`}\n`);
      if (body.error !== 'token_endpoint_unreachable') {
        process.stderr.write(
          `Codes are single-use: open the URL again for a fresh code (the URL is valid until ${formatClockTime(Date.parse(login.expires_at))}).\n`,
        );
      }
    }
  } finally {
    reader.close();
  }
}
