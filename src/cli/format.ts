import { minutesLeft } from '../oauth/pending-logins.js';

/** Human-readable durations and tables for the CLI. */

export function formatDuration(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const text = minutes < 60 ? `${minutes}m` : minutes < 48 * 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${Math.round(minutes / 1440)}d`;
  return ms < 0 ? `expired ${text} ago` : text;
}

/** "10 minutes (until 14:05)": how long from now until `until`, and that time on the local clock. */
export function formatValidity(until: number, now: number): string {
  return `${minutesLeft(until, now)} (until ${formatClockTime(until)})`;
}

/** 14:05, local time. */
export function formatClockTime(ms: number): string {
  const at = new Date(ms);
  return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
}

export function formatPercent(fraction: number | null | undefined): string {
  return fraction === null || fraction === undefined ? '-' : `${Math.round(fraction * 100)}%`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
