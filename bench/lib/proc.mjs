// What Linux says about processes and cores: CPU time, busy time per core, memory, the machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { round } from './stats.mjs';

/** Whether processes are pinned to cores (set by main once taskset works). */
export const pinning = { on: false };
export function pinned0(cmd, args) {
  return pinning.on ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
}

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in ms. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Busy time of one core so far, in ms (user+nice+system+irq+softirq+steal of /proc/stat). */
export function coreBusyMs(core) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) return 0;
  const f = line.split(/\s+/).slice(1).map(Number);
  return ((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 1000) / CLK_TCK;
}

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM). */
export function statusMb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : null;
}

/** Resets VmHWM to the current RSS (Linux clear_refs 5), so a phase's own peak can be read. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  let wrkVersion = null;
  try {
    execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    wrkVersion = /wrk\s+(\S+)/.exec(`${err.stdout ?? ''}`)?.[1] ?? null;
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    wrk: wrkVersion,
    kernel: os.release(),
    load_average_at_start: os.loadavg().map((x) => round(x, 2)),
    memory_gb: round(os.totalmem() / 2 ** 30, 1),
  };
}
