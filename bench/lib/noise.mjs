// What other processes on the machine took while a measurement ran, and re-measuring disturbed ones.
import { opts } from './options.mjs';
import { coreBusyMs, cpuMs, pinning } from './proc.mjs';
import { log, round, sleep } from './stats.mjs';

/** Other processes' share of a core above which a round is measured again (full runs). */
export const NOISY_PCT = 25;
export const MAX_TRIES = opts.tries ? Math.max(1, Number(opts.tries)) : opts.smoke ? 1 : 3;

/**
 * Starts measuring what other processes on this machine took from each core: core 0 (load
 * generator, upstream, this runner) and core 1 (the service). Returns a function that ends the
 * measurement, given the CPU time of short-lived load processes (wrk) that ran on core 0.
 */
export function startNoiseMeter(upstreamPid, servicePid) {
  const t0 = performance.now();
  const service0 = servicePid ? cpuMs(servicePid) : 0;
  const upstream0 = cpuMs(upstreamPid);
  const self0 = process.cpuUsage();
  const core0 = coreBusyMs(0);
  const core1 = coreBusyMs(1);
  return (extraCore0Ms = 0) => {
    const wall = performance.now() - t0;
    const serviceCpuMs = servicePid ? cpuMs(servicePid) - service0 : 0;
    const self = process.cpuUsage(self0);
    const ours0 = extraCore0Ms + (cpuMs(upstreamPid) - upstream0) + (self.user + self.system) / 1000;
    const pct = (ms) => round(Math.max(0, (100 * ms) / wall), 0);
    const other = pinning.on ? { load_core: pct(coreBusyMs(0) - core0 - ours0), service_core: pct(coreBusyMs(1) - core1 - serviceCpuMs) } : null;
    return { serviceCpuMs, other };
  };
}

/** What disturbed a measurement, if anything: other processes on a core it uses. */
export function disturbance(entry, target) {
  const o = entry.other_load_pct;
  const reasons = [];
  if (o && o.load_core > NOISY_PCT) reasons.push(`other processes took ${o.load_core}% of core 0`);
  if (o && target !== 'direct' && o.service_core > NOISY_PCT) reasons.push(`other processes took ${o.service_core}% of core 1`);
  return reasons;
}

export function describeNoise(entry) {
  const o = entry.other_load_pct;
  if (!o) return '';
  const tries = entry.tries > 1 ? `, ${entry.tries} tries` : '';
  return ` [other processes: core 0 ${o.load_core}%, core 1 ${o.service_core}%${tries}]`;
}

/**
 * Runs a measurement, and again (at most MAX_TRIES in all) while other processes on this machine
 * took more than NOISY_PCT of a core it uses; keeps the least disturbed try.
 */
export async function withQuietRetries(what, target, measure) {
  let best;
  for (let tries = 1; tries <= MAX_TRIES; tries++) {
    const entry = await measure();
    const reasons = disturbance(entry, target);
    const noise = entry.other_load_pct ? Math.max(entry.other_load_pct.load_core, target !== 'direct' ? entry.other_load_pct.service_core : 0) : 0;
    if (!best || noise < best.noise) best = { entry, noise };
    best.entry.tries = tries;
    if (reasons.length === 0) break;
    if (tries < MAX_TRIES) {
      log(`${what}: ${reasons.join('; ')}: measuring again`);
      await sleep(3000);
    }
  }
  return best.entry;
}
