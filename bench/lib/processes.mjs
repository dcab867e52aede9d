// Child processes of the bench: the fake upstream, the service, and killing them all on exit.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { BENCH_DIR, CLI } from './options.mjs';
import { pinned0, pinning } from './proc.mjs';

export const children = new Set();
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
export function killAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function waitForLine(stream, pattern, timeoutMs, what) {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const on = (chunk) => {
      text += chunk;
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        stream.off('data', on);
        resolvePromise(m);
      }
    };
    stream.on('data', on);
    stream.once('end', () => {
      clearTimeout(timer);
      reject(new Error(`${what} exited before it was ready:\n${text}`));
    });
  });
}

export async function startUpstream() {
  const [cmd, args] = pinned0(process.execPath, [join(BENCH_DIR, 'upstream.mjs')]);
  const child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  child.stdout.setEncoding('utf8');
  const m = await waitForLine(child.stdout, /^(\{.*\})$/m, 10_000, 'the fake upstream');
  const { port } = JSON.parse(m[1]);
  return {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.stdin.end();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

export async function startService(config, dir, name, cli = CLI) {
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, JSON.stringify(config, null, 2)); // JSON is YAML
  const logPath = join(dir, `${name}.log`);
  const logFd = openSync(logPath, 'w');
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, cli, 'serve', '--config', configPath, '--port', '0'];
  const child = track(
    pinning.on
      ? spawn('taskset', ['-c', '1', process.execPath, ...args], { cwd: dir, stdio: ['ignore', logFd, 'pipe'] })
      : spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', logFd, 'pipe'] }),
  );
  closeSync(logFd);
  child.stderr.setEncoding('utf8');
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 100_000) stderr += d;
  });
  const m = await waitForLine(child.stderr, /listening on (http:\/\/\S+)/, 20_000, 'the service');
  return {
    child,
    pid: child.pid,
    url: m[1],
    logPath,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A floor relay in front of the upstream, pinned like the service: bench/floor.mjs (bare node:http
 * + undici), bench/floor-net.mjs (node:net only) or bench/floor-hybrid.mjs with its mode in `extra`.
 */
export async function startFloor(dir, upstreamUrl, script = 'floor.mjs', extra = []) {
  const nodeArgs = (process.env.BENCH_FLOOR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, join(BENCH_DIR, script), ...extra, upstreamUrl, join(dir, `${[script, ...extra].join('-')}-access.log`)];
  const child = track(
    pinning.on
      ? spawn('taskset', ['-c', '1', process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  child.stderr.setEncoding('utf8');
  const m = await waitForLine(child.stderr, /listening on (http:\/\/\S+)/, 10_000, `bench/${script}`);
  child.stderr.resume();
  return {
    pid: child.pid,
    url: m[1],
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    },
  };
}

/** Lines (requests logged) in the service's log file. */
export async function countLines(path) {
  let lines = 0;
  let requestLines = 0;
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = tail + chunk;
    const parts = text.split('\n');
    tail = parts.pop();
    lines += parts.length;
    for (const p of parts) if (p.includes('"msg":"request"')) requestLines++;
  }
  return { lines, requestLines };
}

/** A loopback port free right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
