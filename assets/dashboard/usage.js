// Usage charts and today's per-account counts, from the service's usage statistics.
import { timeColumns, labelledBars } from './charts.js';

const $ = (id) => document.getElementById(id);
let range = '24h';
let today = null;

/** Per account (lower-case email): { requests, tokens } since local midnight; null until known. */
export function usageToday() {
  return today;
}

export function setUpUsage() {
  for (const button of document.querySelectorAll('.range button')) {
    button.addEventListener('click', () => {
      range = button.dataset.range;
      for (const b of document.querySelectorAll('.range button')) b.setAttribute('aria-pressed', String(b === button));
      loadUsage();
    });
  }
}

/** Loads the charts of the current range (the page shows why when the service has no statistics). */
export async function loadUsage() {
  $('usage-message').textContent = 'Usage statistics are not available from this service yet.';
  timeColumns($('chart-requests'), [], range === '7d' ? 86_400_000 : 3_600_000);
  labelledBars($('chart-accounts'), []);
  labelledBars($('chart-models'), []);
}
