import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  url: string;
  /** `redis-cli` arguments that reach this server. */
  cliArgs: string[];
  /** Ends the server (SIGTERM, or SIGKILL with `hard`). Its data is not kept (no RDB, no AOF). */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Removes the temp dir as well. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A real redis-server on a free loopback port with a temp dir, nothing persisted; `password` sets requirepass. */
export async function startRedisServer(opts: { password?: string } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ccb-redis-'));
  let child: ChildProcess | null = null;
  let port = 0;

  const launch = (onPort: number) =>
    new Promise<ChildProcess>((resolve, reject) => {
      const args = ['--port', String(onPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
      if (opts.password) args.push('--requirepass', opts.password);
      const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`redis-server did not start:\n${out}`));
      }, 10_000);
      proc.stdout!.on('data', (d) => {
        out += d;
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve(proc);
        }
      });
      proc.stderr!.on('data', (d) => (out += d));
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
      });
    });

  // Another process may take the port between the probe and the bind: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      child = await launch(port);
      break;
    } catch (err) {
      if (attempt >= 4 || !/Address already in use/.test(String(err))) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const stop = async (hard = false) => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    cliArgs: ['-h', '127.0.0.1', '-p', String(port), ...(opts.password ? ['--no-auth-warning', '-a', opts.password] : [])],
    stop,
    async restart() {
      await stop();
      child = await launch(port);
    },
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The settings.oauth part openRedisStore needs, for a store on `redis` under `prefix`. */
export function redisStoreSettings(redis: RedisServer, prefix: string, encryptionKey: string) {
  return {
    redis_url: redis.url,
    redis_prefix: prefix,
    encryption_key: encryptionKey,
    allow_plaintext_redis: false,
    redis_lock_ttl_ms: 5000,
    token_timeout_ms: 5000,
  };
}
