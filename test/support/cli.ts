import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startService, type RunningService } from './harness.js';
import { oauthPoolConfig, startOAuthFakes, type OAuthFakes } from './oauth-setup.js';

export const CLI = resolve('dist/cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `claude-code-balancer login` as a user would: reads the URL it prints, answers its prompts. */
export function interactiveLogin(args: string[], answer: (loginUrl: string, attempt: number) => Promise<string | null>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'login', '--no-browser', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let prompts = 0;
    let loginUrl = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', async (d) => {
      stderr += d;
      const urls = [...stderr.matchAll(/^\s+(http\S+\/oauth\/authorize\S+)$/gm)];
      if (urls.length) loginUrl = urls.at(-1)![1];
      const seen = (stderr.match(/Paste the code/g) ?? []).length;
      while (prompts < seen) {
        prompts++;
        const reply = await answer(loginUrl, prompts);
        if (reply === null) child.stdin.end();
        else child.stdin.write(`${reply}\n`);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The service (in process, an OAuth pool) and the fake OAuth server the CLI's login goes through. */
export interface CliTarget {
  fakes: OAuthFakes;
  svc: RunningService;
  close(): Promise<void>;
}

export async function startCliTarget(): Promise<CliTarget> {
  const fakes = await startOAuthFakes();
  let svc: RunningService;
  try {
    svc = await startService({ config: oauthPoolConfig(fakes) });
  } catch (err) {
    await fakes.close();
    throw err;
  }
  return {
    fakes,
    svc,
    close: async () => {
      await svc.close();
      await fakes.close();
    },
  };
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `claude-code-balancer serve` as a real process and waits until it listens. */
export function startServiceProcess(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<ServiceProcess> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    let started = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start in time.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 15_000);
    const waitFor = (which: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 5000) =>
      new Promise<void>((res, rej) => {
        const text = () => (which === 'stdout' ? stdout : stderr);
        const stream = which === 'stdout' ? child.stdout! : child.stderr!;
        if (pattern.test(text())) return res();
        const t = setTimeout(() => {
          stream.off('data', on);
          rej(new Error(`${which} never matched ${pattern}:\n${text()}`));
        }, timeoutMs);
        const on = () => {
          if (pattern.test(text())) {
            clearTimeout(t);
            stream.off('data', on);
            res();
          }
        };
        // Registered after the accumulating listener, so text() already includes this chunk.
        stream.on('data', on);
      });
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => {
      stderr += d;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match && !started) {
        started = true;
        clearTimeout(timer);
        resolvePromise({
          child,
          url: match[1],
          stdout: () => stdout,
          stderr: () => stderr,
          exited,
          waitForStdout: (pattern, timeoutMs) => waitFor('stdout', pattern, timeoutMs),
          waitForStderr: (pattern, timeoutMs) => waitFor('stderr', pattern, timeoutMs),
          stop: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then(({ code, signal }) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`service exited (${code ?? signal}) before listening.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }
    });
  });
}
