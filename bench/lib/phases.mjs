// The measurements: throughput rounds (direct against the service), simultaneous streams, the soak.
import { BENCH_API_KEY, CLIENT_API_KEY, DELTAS, PLAN } from './options.mjs';
import { startNoiseMeter, withQuietRetries, describeNoise } from './noise.mjs';
import { resetPeak, statusMb } from './proc.mjs';
import { median, log, round, sleep } from './stats.mjs';
import { simultaneousStreams } from './streams.mjs';
import { runWrk } from './wrk.mjs';

/** The result key of a bench/floor-hybrid.mjs mode: floor_http_net, floor_net_undici. */
export const hybridKey = (mode) => `floor_${mode.replace('-', '_')}`;

/**
 * Throughput rounds: for each round, non-streaming then streaming, direct, through the service and
 * (when given) through nginx and the floors (bench/floor.mjs, bench/floor-net.mjs, the `hybrids` of
 * bench/floor-hybrid.mjs by mode), in an order that rotates from round
 * to round. `body` is a load.lua body template (the 2 KB body when absent). nginx and the floor get
 * the direct credentials: they forward them.
 */
export async function throughput({ upstream, service, nginx, floor, floorNet, hybrids = {}, directAuth, directBeta, serviceAuth, serviceBeta, label, body }) {
  const targets = {
    direct: { url: upstream.url, auth: directAuth, beta: directBeta },
    service: { url: service.url, auth: serviceAuth, beta: serviceBeta, pid: service.pid },
    ...(nginx ? { nginx: { url: nginx.url, auth: directAuth, beta: directBeta, pid: nginx.pid } } : {}),
    ...(floor ? { floor: { url: floor.url, auth: directAuth, beta: directBeta, pid: floor.pid } } : {}),
    ...(floorNet ? { floor_net: { url: floorNet.url, auth: directAuth, beta: directBeta, pid: floorNet.pid } } : {}),
    ...Object.fromEntries(Object.entries(hybrids).map(([mode, h]) => [hybridKey(mode), { url: h.url, auth: directAuth, beta: directBeta, pid: h.pid }])),
  };
  const names = Object.keys(targets);
  const run = (target, mode, durationS) =>
    runWrk({ url: targets[target].url, mode, auth: targets[target].auth, beta: targets[target].beta, durationS, connections: PLAN.connections, body });
  log(`[${label}] warm-up`);
  for (const mode of ['json', 'stream']) for (const target of names) await run(target, mode, PLAN.warmup);

  const rounds = { json: {}, stream: {} };
  for (const mode of ['json', 'stream']) for (const target of names) rounds[mode][target] = [];
  for (let r = 0; r < PLAN.rounds; r++) {
    const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
    for (const mode of ['json', 'stream']) {
      for (const target of order) {
        const what = `[${label}] round ${r + 1} ${mode === 'json' ? 'non-streaming' : 'streaming'} ${target}`;
        const { pid } = targets[target];
        const entry = await withQuietRetries(what, target, async () => {
          const meter = startNoiseMeter(upstream.pid, pid);
          const res = await run(target, mode, PLAN.duration);
          const { serviceCpuMs, other } = meter(res.wrk_cpu_ms);
          return {
            rps: round(res.rps, 1),
            requests: res.requests,
            p50_ms: round(res.latency_us.p50 / 1000, 3),
            p99_ms: round(res.latency_us.p99 / 1000, 3),
            errors: res.error_count,
            // A round without a single answer (a stalled machine) has no CPU per request: null, not NaN.
            ...(pid ? { cpu_ms: round(serviceCpuMs, 0), cpu_ms_per_request: res.requests ? round(serviceCpuMs / res.requests, 4) : null } : {}),
            other_load_pct: other,
          };
        });
        rounds[mode][target].push(entry);
        log(
          `${what}: ${entry.rps} req/s, p50 ${entry.p50_ms} ms, p99 ${entry.p99_ms} ms` +
            (entry.cpu_ms_per_request !== undefined ? `, CPU ${entry.cpu_ms_per_request} ms/req` : '') +
            (entry.errors ? `, ${entry.errors} ERRORS` : '') +
            describeNoise(entry),
        );
      }
    }
  }
  const summarize = (list, withCpu) => ({
    rounds: list,
    median: {
      rps: round(median(list.map((x) => x.rps)), 1),
      p50_ms: round(median(list.map((x) => x.p50_ms)), 3),
      p99_ms: round(median(list.map((x) => x.p99_ms)), 3),
      errors: list.reduce((a, x) => a + x.errors, 0),
      ...(withCpu ? { cpu_ms_per_request: round(median(list.map((x) => x.cpu_ms_per_request)), 4) } : {}),
    },
  });
  const result = {};
  for (const [mode, key] of [
    ['json', 'non_streaming'],
    ['stream', 'streaming'],
  ]) {
    const direct = summarize(rounds[mode].direct, false);
    const through = summarize(rounds[mode].service, true);
    result[key] = { direct, service: through, ratio: round(through.median.rps / direct.median.rps, 3) };
    if (nginx) {
      const proxied = summarize(rounds[mode].nginx, true);
      result[key].nginx = proxied;
      // Per-round pairs would be tidier, but rounds are seconds apart either way: the medians' ratio.
      result[key].service_cpu_over_nginx = round(through.median.cpu_ms_per_request / proxied.median.cpu_ms_per_request, 2);
    }
    if (floor) {
      const bare = summarize(rounds[mode].floor, true);
      result[key].floor = bare;
      result[key].service_cpu_over_floor = round(through.median.cpu_ms_per_request / bare.median.cpu_ms_per_request, 2);
      if (nginx) result[key].floor_cpu_over_nginx = round(bare.median.cpu_ms_per_request / result[key].nginx.median.cpu_ms_per_request, 2);
    }
    if (floorNet) {
      const raw = summarize(rounds[mode].floor_net, true);
      result[key].floor_net = raw;
      if (nginx) result[key].floor_net_cpu_over_nginx = round(raw.median.cpu_ms_per_request / result[key].nginx.median.cpu_ms_per_request, 2);
    }
    for (const name of Object.keys(hybrids)) {
      const k = hybridKey(name);
      const crossed = summarize(rounds[mode][k], true);
      result[key][k] = crossed;
      if (nginx) result[key][`${k}_cpu_over_nginx`] = round(crossed.median.cpu_ms_per_request / result[key].nginx.median.cpu_ms_per_request, 2);
    }
  }
  return result;
}

export async function concurrentStreams({ upstream, service }) {
  const rounds = { direct: [], service: [] };
  let peakResetWorks = true;
  log('[streams] warm-up');
  for (const target of ['direct', 'service']) {
    await simultaneousStreams({
      url: target === 'direct' ? upstream.url : service.url,
      n: Math.min(PLAN.streams, 200),
      deltaDelayMs: PLAN.deltaDelayMs,
      headers: { 'x-api-key': target === 'direct' ? BENCH_API_KEY : CLIENT_API_KEY },
    });
  }
  await sleep(300);
  for (let r = 0; r < PLAN.rounds; r++) {
    const order = r % 2 === 0 ? ['direct', 'service'] : ['service', 'direct'];
    for (const target of order) {
      const what = `[streams] round ${r + 1} ${target}`;
      const res = await withQuietRetries(what, target, async () => {
        if (target === 'service') peakResetWorks = resetPeak(service.pid) && peakResetWorks;
        const meter = startNoiseMeter(upstream.pid, target === 'service' ? service.pid : null);
        const result = await simultaneousStreams({
          url: target === 'direct' ? upstream.url : service.url,
          n: PLAN.streams,
          deltaDelayMs: PLAN.deltaDelayMs,
          headers: target === 'direct' ? { 'x-api-key': BENCH_API_KEY } : { 'x-api-key': CLIENT_API_KEY },
        });
        result.other_load_pct = meter().other;
        if (target === 'service') result.peak_rss_mb = round(statusMb(service.pid, 'VmHWM'), 1);
        await sleep(300);
        return result;
      });
      rounds[target].push(res);
      log(
        `${what}: ${res.completed}/${res.streams} complete, ${res.in_order} in order, TTFB p50 ${res.ttfb_p50_ms} ms p99 ${res.ttfb_p99_ms} ms` +
          (res.peak_rss_mb !== undefined ? `, peak RSS ${res.peak_rss_mb} MB` : '') +
          (res.errors ? `, ${res.errors} errors (${res.first_error})` : '') +
          describeNoise(res),
      );
    }
  }
  const summarize = (list) => ({
    rounds: list,
    median: {
      ttfb_p50_ms: round(median(list.map((x) => x.ttfb_p50_ms))),
      ttfb_p99_ms: round(median(list.map((x) => x.ttfb_p99_ms))),
      all_complete: list.every((x) => x.completed === x.streams && x.in_order === x.streams),
      ...(list[0]?.peak_rss_mb !== undefined ? { peak_rss_mb: round(Math.max(...list.map((x) => x.peak_rss_mb)), 1) } : {}),
    },
  });
  const direct = summarize(rounds.direct);
  const through = summarize(rounds.service);
  return {
    streams: PLAN.streams,
    delta_delay_ms: PLAN.deltaDelayMs,
    deltas: DELTAS,
    peak_rss_is: peakResetWorks ? 'peak during the streams (VmHWM reset before each round)' : 'lifetime peak of the process',
    direct,
    service: through,
    ttfb_p99_over_direct_ms: round(through.median.ttfb_p99_ms - direct.median.ttfb_p99_ms),
  };
}

export async function soak({ upstream, service }) {
  const meter = startNoiseMeter(upstream.pid, service.pid);
  let wrkCpuMs = 0;
  const load = (limit) =>
    runWrk({
      url: service.url,
      mode: 'mixed',
      auth: ['x-api-key', CLIENT_API_KEY],
      durationS: 300,
      connections: PLAN.connections,
      limit,
    });
  const first = await load(PLAN.soakFirst);
  wrkCpuMs += first.wrk_cpu_ms;
  await sleep(1000);
  const rssFirst = statusMb(service.pid, 'VmRSS');
  log(`[soak] after ${first.requests} requests: RSS ${round(rssFirst, 1)} MB`);
  const rest = await load(PLAN.soakTotal - first.requests);
  wrkCpuMs += rest.wrk_cpu_ms;
  const { other } = meter(wrkCpuMs);
  await sleep(1000);
  const rssAfter = statusMb(service.pid, 'VmRSS');
  const requests = first.requests + rest.requests;
  log(`[soak] after ${requests} requests: RSS ${round(rssAfter, 1)} MB (${round(rest.rps, 0)} req/s)`);
  return {
    requests,
    first_requests: first.requests,
    mix: 'every second request streaming',
    errors: first.error_count + rest.error_count,
    rps: round(rest.rps, 1),
    rss_after_first_mb: round(rssFirst, 1),
    rss_after_mb: round(rssAfter, 1),
    rss_growth_mb: round(rssAfter - rssFirst, 1),
    other_load_pct: other,
  };
}
