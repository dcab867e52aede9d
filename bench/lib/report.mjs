// Budgets checked against the results, and the tables printed at the end.
import { BUDGETS } from './options.mjs';
import { round } from './stats.mjs';

export function budgets(results) {
  const a = results.scenarios.api_key ?? {};
  const checks = [];
  const check = (name, value, limit, ok) => checks.push({ name, value, limit, ok: value !== null && value !== undefined && ok });
  let errors = 0;
  const cc = results.scenarios.claude_code_140k;
  if (cc?.non_streaming?.nginx) {
    for (const [key, label] of [['non_streaming', 'non-streaming'], ['streaming', 'streaming']]) {
      const ratio = cc[key].service_cpu_over_nginx;
      check(`${Math.round(cc.body_bytes / 1000)} kB body (${label}): service CPU per request / nginx's`, ratio, `<= ${BUDGETS.big_body_cpu_over_nginx_max}`, ratio <= BUDGETS.big_body_cpu_over_nginx_max);
    }
  }
  const file = results.scenarios.oauth_2_accounts;
  const redis = results.scenarios.oauth_2_accounts_redis;
  if (file?.non_streaming && redis?.non_streaming) {
    for (const [key, label] of [['non_streaming', 'non-streaming'], ['streaming', 'streaming']]) {
      const ratio = round(redis[key].service.median.cpu_ms_per_request / file[key].service.median.cpu_ms_per_request, 3);
      check(`OAuth pool (${label}): service CPU per request, Redis store / file store`, ratio, `<= ${BUDGETS.redis_cpu_over_file_max}`, ratio <= BUDGETS.redis_cpu_over_file_max);
    }
  }
  for (const sc of Object.values(results.scenarios)) {
    for (const key of ['non_streaming', 'streaming']) {
      if (sc === a || !sc[key]) continue;
      errors += sc[key].direct.median.errors + sc[key].service.median.errors + (sc[key].nginx?.median.errors ?? 0) + (sc[key].floor?.median.errors ?? 0) + (sc[key].floor_net?.median.errors ?? 0) + (sc[key].floor_http_net?.median.errors ?? 0) + (sc[key].floor_net_undici?.median.errors ?? 0);
    }
  }
  if (a.non_streaming) {
  check('non-streaming throughput through the service / direct', a.non_streaming.ratio, `>= ${BUDGETS.non_streaming_ratio_min}`, a.non_streaming.ratio >= BUDGETS.non_streaming_ratio_min);
  check('streaming throughput through the service / direct', a.streaming.ratio, `>= ${BUDGETS.streaming_ratio_min}`, a.streaming.ratio >= BUDGETS.streaming_ratio_min);
  const cpu = a.non_streaming.service.median.cpu_ms_per_request;
  check('service CPU per proxied request (non-streaming), ms', cpu, `<= ${BUDGETS.cpu_ms_per_request_max}`, cpu <= BUDGETS.cpu_ms_per_request_max);
  const cpuStream = a.streaming.service.median.cpu_ms_per_request;
  check('service CPU per proxied request (streaming), ms', cpuStream, `<= ${BUDGETS.cpu_ms_per_request_max}`, cpuStream <= BUDGETS.cpu_ms_per_request_max);
  errors += a.non_streaming.direct.median.errors + a.non_streaming.service.median.errors + a.streaming.direct.median.errors + a.streaming.service.median.errors;
  }
  const s = a.concurrent_streams;
  if (s) {
  check(`${s.streams} simultaneous streams all complete, every event in order`, s.service.median.all_complete && s.direct.median.all_complete, 'all', s.service.median.all_complete && s.direct.median.all_complete);
  check('simultaneous streams: p99 TTFB above direct, ms', s.ttfb_p99_over_direct_ms, `<= ${BUDGETS.streams_ttfb_p99_over_direct_ms_max}`, s.ttfb_p99_over_direct_ms <= BUDGETS.streams_ttfb_p99_over_direct_ms_max);
  check('simultaneous streams: service peak RSS, MB', s.service.median.peak_rss_mb, `<= ${BUDGETS.streams_peak_rss_mb_max}`, s.service.median.peak_rss_mb <= BUDGETS.streams_peak_rss_mb_max);
  }
  if (a.soak) {
  errors += a.soak.errors;
  check(`soak of ${a.soak.requests} requests: RSS growth after the first ${a.soak.first_requests}, MB`, a.soak.rss_growth_mb, `<= ${BUDGETS.soak_rss_growth_mb_max}`, a.soak.rss_growth_mb <= BUDGETS.soak_rss_growth_mb_max);
  }
  check('HTTP errors during the load (wrk: connect, read, write, non-2xx, timeout)', errors, '= 0', errors === 0);
  return checks;
}

export const fmt = (x, d = 0) => (x === null || x === undefined ? '-' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

export function renderTable(results) {
  const lines = [];
  const rows = [['scenario', 'test', 'direct req/s', 'service req/s', 'ratio', 'direct p50 / p99 ms', 'service p50 / p99 ms', 'service CPU ms/req', 'nginx req/s', 'nginx CPU ms/req', 'service / nginx CPU', 'floor CPU ms/req', 'floor / nginx CPU', 'service / floor CPU', 'floor-net CPU ms/req', 'floor-net / nginx CPU', 'http-net CPU ms/req', 'http-net / nginx CPU', 'net-undici CPU ms/req', 'net-undici / nginx CPU']];
  for (const [name, sc] of Object.entries(results.scenarios)) {
    for (const [key, label] of [
      ['non_streaming', 'non-streaming'],
      ['streaming', 'streaming (20 deltas)'],
    ]) {
      const t = sc[key];
      if (!t) continue;
      rows.push([
        name,
        label,
        fmt(t.direct.median.rps),
        fmt(t.service.median.rps),
        fmt(t.ratio, 2),
        `${fmt(t.direct.median.p50_ms, 2)} / ${fmt(t.direct.median.p99_ms, 2)}`,
        `${fmt(t.service.median.p50_ms, 2)} / ${fmt(t.service.median.p99_ms, 2)}`,
        fmt(t.service.median.cpu_ms_per_request, 3),
        t.nginx ? fmt(t.nginx.median.rps) : '-',
        t.nginx ? fmt(t.nginx.median.cpu_ms_per_request, 3) : '-',
        t.nginx ? fmt(t.service_cpu_over_nginx, 2) : '-',
        t.floor ? fmt(t.floor.median.cpu_ms_per_request, 3) : '-',
        t.floor_cpu_over_nginx !== undefined ? fmt(t.floor_cpu_over_nginx, 2) : '-',
        t.floor ? fmt(t.service_cpu_over_floor, 2) : '-',
        t.floor_net ? fmt(t.floor_net.median.cpu_ms_per_request, 3) : '-',
        t.floor_net_cpu_over_nginx !== undefined ? fmt(t.floor_net_cpu_over_nginx, 2) : '-',
        ...['floor_http_net', 'floor_net_undici'].flatMap((k) => [t[k] ? fmt(t[k].median.cpu_ms_per_request, 3) : '-', t[`${k}_cpu_over_nginx`] !== undefined ? fmt(t[`${k}_cpu_over_nginx`], 2) : '-']),
      ]);
    }
  }
  if (rows.length > 1) lines.push(...markdownTable(rows), '');
  const a = results.scenarios.api_key ?? {};
  const s = a.concurrent_streams;
  if (s) lines.push(
    ...markdownTable([
      [`${s.streams} simultaneous streams, ${s.delta_delay_ms} ms between deltas`, 'direct', 'service'],
      ['complete, every event in order', s.direct.median.all_complete ? 'all' : 'NOT ALL', s.service.median.all_complete ? 'all' : 'NOT ALL'],
      ['TTFB p50 / p99 ms', `${fmt(s.direct.median.ttfb_p50_ms, 1)} / ${fmt(s.direct.median.ttfb_p99_ms, 1)}`, `${fmt(s.service.median.ttfb_p50_ms, 1)} / ${fmt(s.service.median.ttfb_p99_ms, 1)}`],
      ['p99 TTFB above direct ms', '', fmt(s.ttfb_p99_over_direct_ms, 1)],
      ['service peak RSS (VmHWM) MB', '', fmt(s.service.median.peak_rss_mb, 1)],
    ]),
    '',
  );
  if (a.soak) lines.push(
    ...markdownTable([
      [`soak (${fmt(a.soak.requests)} requests, ${a.soak.mix})`, 'value'],
      [`RSS after the first ${fmt(a.soak.first_requests)} MB`, fmt(a.soak.rss_after_first_mb, 1)],
      [`RSS after ${fmt(a.soak.requests)} MB`, fmt(a.soak.rss_after_mb, 1)],
      ['growth MB', fmt(a.soak.rss_growth_mb, 1)],
    ]),
    '',
  );
  lines.push(...markdownTable([['budget', 'measured', 'limit', 'met'], ...results.budgets.map((b) => [b.name, String(b.value), b.limit, b.ok ? 'yes' : 'NO'])]));
  return lines.join('\n');
}

export function markdownTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)];
}
