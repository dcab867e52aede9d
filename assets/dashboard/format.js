// Small formatting helpers shared by the page's modules (the CLI's words where it has them).

/** "8h 0m", "12m", "3d" like the CLI's formatDuration. */
export function duration(ms) {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const text = minutes < 60 ? `${minutes}m` : minutes < 48 * 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${Math.round(minutes / 1440)}d`;
  return ms < 0 ? `expired ${text} ago` : text;
}

/** hh:mm in the browser's time zone, with the day when it is not today. */
export function clock(iso) {
  const d = new Date(iso);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString([], { weekday: 'short' })} ${time}`;
}

export function percent(fraction) {
  return fraction === null || fraction === undefined ? '–' : `${Math.round(fraction * 100)}%`;
}

export function count(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

/** An element with text content only (never HTML), and attributes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c) node.append(c);
  return node;
}
