// The reference row: nginx as a plain reverse proxy in front of the same upstream, under the same
// load and on the same core as the service. One worker, a keep-alive pool to the upstream, access
// log on (the service logs every request too). What a mature proxy costs per request is the
// yardstick for the service's own cost.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pinning } from './proc.mjs';
import { freePort, track } from './processes.mjs';
import { sleep } from './stats.mjs';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx'];

export function nginxBinary() {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

function config(dir, port, upstreamUrl) {
  const upstream = new URL(upstreamUrl);
  return `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 32m;
  # Bodies of the bench (up to ~150 KB) stay in memory, like the service's.
  client_body_buffer_size 1m;
  keepalive_requests 100000;
  upstream bench_upstream {
    server ${upstream.hostname}:${upstream.port};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header Accept-Encoding identity;
      # Streams pass through as they come, as the service relays them.
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
}

/** Starts nginx (pinned like the service), or returns null when it is not installed. */
export async function startNginx(dir, upstreamUrl) {
  const bin = nginxBinary();
  if (!bin) return null;
  const home = join(dir, 'nginx');
  mkdirSync(home, { recursive: true });
  const port = await freePort();
  const conf = join(home, 'nginx.conf');
  writeFileSync(conf, config(home, port, upstreamUrl));
  const args = ['-p', home, '-c', conf];
  const child = track(
    pinning.on ? spawn('taskset', ['-c', '1', bin, ...args], { stdio: 'ignore' }) : spawn(bin, args, { stdio: 'ignore' }),
  );
  // Ready when the port answers and the worker exists.
  let worker = null;
  for (let i = 0; i < 100 && !worker; i++) {
    await sleep(100);
    if (child.exitCode !== null) throw new Error(`nginx exited: ${readFileSync(join(home, 'error.log'), 'utf8')}`);
    try {
      const master = Number(readFileSync(join(home, 'nginx.pid'), 'utf8').trim());
      worker = Number(execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).trim().split('\n')[0]) || null;
    } catch {
      worker = null;
    }
  }
  if (!worker) throw new Error('nginx did not start');
  // killAll (an aborted run) ends the master with SIGKILL, which leaves its worker behind.
  const endWorker = () => {
    try {
      process.kill(worker, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', endWorker);
  return {
    url: `http://127.0.0.1:${port}`,
    // The worker does the proxying; the master only waits.
    pid: worker,
    accessLog: join(home, 'access.log'),
    stop: async () => {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
      clearTimeout(timer);
      process.removeListener('exit', endWorker);
    },
  };
}
