// A real redis-server for the OAuth scenario on the Redis store: a free loopback port, nothing
// persisted, on the load core (it is touched only by the pool's writes, not per request).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pinned0 } from './proc.mjs';
import { freePort, track } from './processes.mjs';

export const REDIS_SERVER = '/usr/bin/redis-server';

export function redisAvailable() {
  return existsSync(REDIS_SERVER);
}

export async function startRedis(dir) {
  const home = join(dir, 'redis');
  mkdirSync(home, { recursive: true });
  const port = await freePort();
  const [cmd, args] = pinned0(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', home, '--save', '', '--appendonly', 'no']);
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    },
  };
}
