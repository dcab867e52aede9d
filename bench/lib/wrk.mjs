// Load from wrk with bench/load.lua.
import { spawn } from 'node:child_process';
import { LUA } from './options.mjs';
import { cpuMs, pinned0 } from './proc.mjs';
import { track } from './processes.mjs';

/**
 * One wrk run: POST /v1/messages with distinct 2 KB bodies (or those of a body template, see load.lua). With limit, wrk is stopped once that
 * many responses have come back (the Lua script says so on stdout).
 */
export function runWrk({ url, mode, auth, beta, durationS, connections, limit = 0, body = '-' }) {
  const wrkArgs = [
    '-t1',
    `-c${connections}`,
    `-d${durationS}s`,
    '--timeout',
    '10s',
    '-s',
    LUA,
    url,
    '--',
    mode,
    auth[0],
    auth[1],
    beta ?? '-',
    String(limit),
    body,
  ];
  const [cmd, args] = pinned0('wrk', wrkArgs);
  return new Promise((resolvePromise, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    let signalled = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      if (!signalled && out.includes('LIMIT_REACHED')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    // wrk's own CPU time, sampled until it exits (a lower bound by at most one interval).
    let wrkCpuMs = 0;
    const sampler = setInterval(() => {
      try {
        wrkCpuMs = cpuMs(child.pid);
      } catch {
        // exited
      }
    }, 200);
    child.on('exit', (code) => {
      clearInterval(sampler);
      const m = /^WRK_JSON (.*)$/m.exec(out);
      if (!m) return reject(new Error(`wrk failed (exit ${code}):\n${out}\n${err}`));
      const r = JSON.parse(m[1]);
      const e = r.errors;
      r.error_count = e.connect + e.read + e.write + e.status + e.timeout;
      r.rps = r.requests / (r.duration_us / 1e6);
      r.wrk_cpu_ms = wrkCpuMs;
      resolvePromise(r);
    });
  });
}
