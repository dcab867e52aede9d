/**
 * A private Secret Service for tests: its own dbus-daemon and gnome-keyring-daemon, with HOME,
 * the keyring files and the bus socket in temp directories. The user's session bus and keyring are
 * never contacted: the daemons get a scrubbed environment and the bus has no service directories,
 * so nothing is D-Bus-activated (not even a password prompter).
 *
 * Needs Debian's dbus, gnome-keyring and libsecret-tools; tests fail (not skip) without them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SessionBusOptions {
  /** HOME of the daemons; the login keyring lives in $HOME/.local/share/keyrings. Reuse it to restart on the same keyring. */
  home: string;
  /** How long a daemon may take to come up. */
  timeoutMs?: number;
}

export interface SecretServiceOptions extends SessionBusOptions {
  /** Password of the login keyring; created with it on the first unlocked start of a fresh home. */
  password: string;
  /** true: unlock (or create) the login keyring; false: leave an existing login keyring locked. */
  unlock: boolean;
}

export interface SecretService {
  /**
   * What a client process needs to use this bus, to merge over process.env (see clientEnv()):
   * DBUS_SESSION_BUS_ADDRESS (the only thing libsecret/keytar look at while it is set) and
   * XDG_RUNTIME_DIR (GDBus falls back to $XDG_RUNTIME_DIR/bus when the address is unset), plus
   * HOME and XDG_* so that the client's own files also land in the temp home.
   */
  env: Record<string, string>;
  address: string;
  /** Kills every daemon it started and removes the runtime directory. */
  stop(): Promise<void>;
}

/** Variables that could lead a daemon or client to the user's real session. */
const SESSION_VARIABLES = [
  'DBUS_SESSION_BUS_ADDRESS',
  'DBUS_STARTER_ADDRESS',
  'DBUS_STARTER_BUS_TYPE',
  'DISPLAY',
  'WAYLAND_DISPLAY',
  'GNOME_KEYRING_CONTROL',
  'GNOME_KEYRING_PID',
  'SSH_AUTH_SOCK',
  'XDG_RUNTIME_DIR',
  'XDG_SESSION_ID',
];

/** A private session bus with no Secret Service on it (and none activatable). */
export async function startSessionBus(opts: SessionBusOptions): Promise<SecretService> {
  return startDaemons(opts, async () => undefined);
}

/** A private session bus with gnome-keyring's Secret Service on it, owned and ready when this resolves. */
export async function startSecretService(opts: SecretServiceOptions): Promise<SecretService> {
  return startDaemons(opts, async (env, timeoutMs, launch) => {
    const keyring = launch(
      'gnome-keyring-daemon',
      ['--foreground', '--components=secrets', ...(opts.unlock ? ['--unlock'] : [])],
      // With --unlock it reads the login keyring password from stdin, up to EOF.
      opts.unlock ? opts.password : undefined,
    );
    await keyring.until(timeoutMs, async () => (await nameHasOwner(env)) === true);
    if (opts.unlock) await keyring.until(timeoutMs, async () => (await isDefaultLocked(env)) === false);
  });
}

async function startDaemons(
  opts: SessionBusOptions,
  startService: (env: Record<string, string>, timeoutMs: number, launch: Launch) => Promise<void>,
): Promise<SecretService> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  // Fresh per start: a new bus socket and gnome-keyring control directory, none left from a previous run.
  const runtimeDir = await mkdtemp(join(tmpdir(), 'ccb-bus-'));
  const dataHome = join(opts.home, '.local', 'share');
  await mkdir(dataHome, { recursive: true, mode: 0o700 });
  const configFile = join(runtimeDir, 'bus.conf');
  await writeFile(configFile, busConfig(join(runtimeDir, 'bus')));
  const baseEnv: Record<string, string> = {
    HOME: opts.home,
    XDG_DATA_HOME: dataHome,
    XDG_CONFIG_HOME: join(opts.home, '.config'),
    XDG_CACHE_HOME: join(opts.home, '.cache'),
    XDG_RUNTIME_DIR: runtimeDir,
  };

  const daemons: Daemon[] = [];
  const launch = (command: string, args: string[], stdin: string | undefined, env: Record<string, string>) => {
    const daemon = spawnDaemon(command, args, { ...scrubbedEnv(), ...env }, stdin);
    daemons.push(daemon);
    return daemon;
  };
  const killAll = () => daemons.forEach((d) => d.running() && d.child.kill('SIGKILL'));
  // Safety net if the test process exits without calling stop(): never leave daemons behind.
  process.once('exit', killAll);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.removeListener('exit', killAll);
      // Reverse start order: gnome-keyring ends on SIGTERM before its bus vanishes under it.
      for (const daemon of [...daemons].reverse()) await daemon.terminate();
      await rm(runtimeDir, { recursive: true, force: true });
    })());

  try {
    const bus = launch('dbus-daemon', [`--config-file=${configFile}`, '--nofork', '--print-address=1'], undefined, baseEnv);
    const address = await bus.firstLine(timeoutMs);
    const env = { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: address };
    await startService(env, timeoutMs, (command, args, stdin) => launch(command, args, stdin, env));
    return { env, address, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A running Secret Service whose login keyring exists and is locked, as after a reboot nobody
 * unlocked: starts unlocked on `home` (creating the keyring), lets `seed` store items, stops, and
 * starts again without unlocking.
 */
export async function startLockedSecretService(
  opts: Omit<SecretServiceOptions, 'unlock'> & { seed?: (env: Record<string, string>) => Promise<void> },
): Promise<SecretService> {
  const first = await startSecretService({ ...opts, unlock: true });
  try {
    await opts.seed?.(first.env);
  } finally {
    await first.stop();
  }
  const locked = await startSecretService({ ...opts, unlock: false });
  if ((await isDefaultLocked(locked.env)) !== true) {
    await locked.stop();
    throw new Error('the login keyring did not come up locked');
  }
  return locked;
}

/** The Locked property of the default collection, or undefined when there is none. */
export async function isDefaultLocked(env: Record<string, string>): Promise<boolean | undefined> {
  const reply = await dbusSend(env, [
    '--dest=org.freedesktop.secrets',
    '/org/freedesktop/secrets/aliases/default',
    'org.freedesktop.DBus.Properties.Get',
    'string:org.freedesktop.Secret.Collection',
    'string:Locked',
  ]);
  return parseBoolean(reply);
}

export interface SecretToolItem {
  /** keytar labels items `<service>/<account>`; gnome-keyring shows locked items without a label. */
  label: string;
  /** undefined when the item is locked. */
  secret: string | undefined;
}

/**
 * Items matching `attributes`, as `secret-tool search --all` shows them, and how many of them are
 * locked. (secret-tool prints attributes on stderr, out of order with the items, so they are not
 * parsed; the label says which item it is.)
 */
export async function secretToolSearch(
  env: Record<string, string>,
  attributes: Record<string, string>,
): Promise<{ items: SecretToolItem[]; locked: number }> {
  const args = ['search', '--all', ...Object.entries(attributes).flat()];
  const { stdout, stderr } = await run('secret-tool', args, { env: clientEnv(env), timeout: 5000 }).catch(
    // secret-tool exits 1 when nothing matches.
    (err: { code?: number; stdout?: string; stderr?: string }) => {
      if (err.code === 1 && typeof err.stdout === 'string') return { stdout: err.stdout, stderr: err.stderr ?? '' };
      throw err;
    },
  );
  const items: SecretToolItem[] = [];
  for (const line of stdout.split('\n')) {
    if (/^\[.*\]$/.test(line)) items.push({ label: '', secret: undefined });
    const current = items[items.length - 1];
    const field = /^(label|secret) = (.*)$/.exec(line);
    if (current && field) current[field[1] as 'label' | 'secret'] = field[2]!;
  }
  return { items, locked: (stderr.match(/Cannot get secret of a locked object/g) ?? []).length };
}

/** process.env without the user's session, with `env` over it: the environment of a client child process. */
export function clientEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...scrubbedEnv(), ...env };
}

function scrubbedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of SESSION_VARIABLES) delete env[name];
  return env;
}

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

async function nameHasOwner(env: Record<string, string>): Promise<boolean | undefined> {
  const reply = await dbusSend(env, [
    '--dest=org.freedesktop.DBus',
    '/org/freedesktop/DBus',
    'org.freedesktop.DBus.NameHasOwner',
    'string:org.freedesktop.secrets',
  ]);
  return parseBoolean(reply);
}

/** The reply of a dbus-send call, or undefined when the call failed (e.g. no such object yet). */
async function dbusSend(env: Record<string, string>, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(
      'dbus-send',
      [`--bus=${env.DBUS_SESSION_BUS_ADDRESS}`, '--print-reply=literal', '--reply-timeout=1000', ...args],
      { env: clientEnv(env), timeout: 3000 },
    );
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    return undefined;
  }
}

function parseBoolean(reply: string | undefined): boolean | undefined {
  const match = reply && /boolean (true|false)/.exec(reply);
  return match ? match[1] === 'true' : undefined;
}

type Launch = (command: string, args: string[], stdin?: string) => Daemon;

interface Daemon {
  child: ChildProcess;
  running(): boolean;
  /** The first line the daemon prints on stdout. */
  firstLine(timeoutMs: number): Promise<string>;
  /** Polls `ready` until it holds; fails early, with the daemon's stderr, if the daemon exits. */
  until(timeoutMs: number, ready: () => Promise<boolean>): Promise<void>;
  terminate(): Promise<void>;
}

function spawnDaemon(command: string, args: string[], env: NodeJS.ProcessEnv, stdin?: string): Daemon {
  const child = spawn(command, args, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  child.stdin?.end(stdin);
  let stderr = '';
  let spawnError: Error | undefined;
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('error', (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const running = () => !spawnError && child.exitCode === null && child.signalCode === null;
  const failure = (why: string) =>
    new Error(`${command} ${spawnError ? `could not start (${spawnError.message})` : why}: ${stderr.trim()}`);

  return {
    child,
    running,
    firstLine(timeoutMs) {
      return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(failure(`printed nothing within ${timeoutMs} ms`)), timeoutMs);
        const onExit = () => {
          clearTimeout(timer);
          reject(failure(`exited (${child.exitCode ?? child.signalCode})`));
        };
        void exited.then(onExit);
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const newline = out.indexOf('\n');
          if (newline < 0) return;
          clearTimeout(timer);
          resolve(out.slice(0, newline).trim());
        });
      });
    },
    async until(timeoutMs, ready) {
      const deadline = Date.now() + timeoutMs;
      while (!(await ready())) {
        if (!running()) throw failure(`exited (${child.exitCode ?? child.signalCode})`);
        if (Date.now() > deadline) throw failure(`not ready within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async terminate() {
      if (spawnError) return;
      if (running()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      await exited;
    },
  };
}
