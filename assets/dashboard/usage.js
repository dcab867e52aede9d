// Usage charts and today's per-account counts, from the service's usage statistics
// (GET /admin/usage, mounted for the page under /dashboard/api/admin/usage).
import { call } from './api.js';
import { labelledBars, timeColumns } from './charts.js';

const $ = (id) => document.getElementById(id);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let range = '24h';
let today = null;
let available = false;

/** Whether the service keeps usage statistics (the overview says). */
export function setUsageAvailable(value) {
  available = value;
}

/** Per account (lower-case email): { requests, tokens } since local midnight; null until known. */
export function usageToday() {
  return today;
}

const tokenSum = (t) => (t ? (t.input ?? 0) + (t.output ?? 0) + (t.cache_creation ?? 0) + (t.cache_read ?? 0) : 0);
const errorSum = (e) => Object.values(e ?? {}).reduce((s, n) => s + n, 0);

function usage(from, to, groupBy) {
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), group_by: groupBy });
  return call('GET', `/dashboard/api/admin/usage?${q}`).then((body) => body.buckets);
}

/** Hourly buckets into columns of `step` ms from `from` (hours for 24 h, days for 7 d). */
function columns(buckets, from, to, step) {
  const points = [];
  for (let t = from; t < to; t += step) points.push({ t, requests: 0, errors: 0 });
  for (const b of buckets) {
    const i = Math.floor((Date.parse(b.hour) - from) / step); // rows give the hour as ISO 8601
    if (!(i >= 0 && i < points.length)) continue;
    points[i].requests += b.requests;
    points[i].errors += errorSum(b.errors);
  }
  return points;
}

function totals(buckets, label) {
  const sums = new Map();
  for (const b of buckets) {
    const name = label(b);
    sums.set(name, (sums.get(name) ?? 0) + tokenSum(b.tokens));
  }
  return [...sums].map(([name, value]) => ({ label: name, value })).filter((r) => r.value > 0);
}

export function setUpUsage(changed) {
  for (const button of document.querySelectorAll('.range button')) {
    button.addEventListener('click', () => {
      range = button.dataset.range;
      for (const b of document.querySelectorAll('.range button')) b.setAttribute('aria-pressed', String(b === button));
      loadUsage().then(changed, () => {});
    });
  }
}

/** Loads the charts of the current range and today's counts (the page says so when the service has none). */
export async function loadUsage() {
  const now = Date.now();
  const step = range === '7d' ? DAY : HOUR;
  const to = Math.floor(now / HOUR) * HOUR + HOUR;
  const from = range === '7d' ? new Date(new Date(now).setHours(0, 0, 0, 0)).getTime() - 6 * DAY : to - 24 * HOUR;
  const midnight = new Date(new Date(now).setHours(0, 0, 0, 0)).getTime();
  if (!available) {
    $('usage-message').textContent = 'This service keeps no usage statistics.';
    timeColumns($('chart-requests'), [], step);
    labelledBars($('chart-accounts'), []);
    labelledBars($('chart-models'), []);
    return;
  }
  try {
    const [hours, byAccount, byModel, sinceMidnight] = await Promise.all([
      usage(from, to, 'hour'),
      usage(from, to, 'account'),
      usage(from, to, 'model'),
      usage(midnight, to, 'account'),
    ]);
    $('usage-message').textContent = '';
    timeColumns($('chart-requests'), columns(hours, from, to, step), step);
    labelledBars($('chart-accounts'), totals(byAccount, (b) => b.account ?? b.provider ?? 'other'));
    labelledBars($('chart-models'), totals(byModel, (b) => b.model ?? 'unknown'));
    today = new Map();
    for (const b of sinceMidnight) {
      if (!b.account) continue;
      const key = b.account.toLowerCase();
      const t = today.get(key) ?? { requests: 0, tokens: 0 };
      t.requests += b.requests;
      t.tokens += tokenSum(b.tokens);
      today.set(key, t);
    }
  } catch (err) {
    $('usage-message').textContent = `Usage statistics could not be loaded: ${err.message}`;
    timeColumns($('chart-requests'), [], step);
    labelledBars($('chart-accounts'), []);
    labelledBars($('chart-models'), []);
  }
}
