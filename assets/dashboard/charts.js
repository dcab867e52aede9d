// Plain SVG charts (no library: a few dozen bars need none, and SVG attributes pass a strict CSP).
import { count } from './format.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function label(t, stepMs) {
  const d = new Date(t);
  return stepMs >= 86_400_000
    ? d.toLocaleDateString([], { weekday: 'short', day: 'numeric' })
    : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Requests over time as columns, errors as the red part of each; points are { t, requests, errors }. */
export function timeColumns(container, points, stepMs) {
  const W = 600;
  const H = 180;
  const pad = { l: 36, r: 6, t: 8, b: 22 };
  const max = Math.max(1, ...points.map((p) => p.requests));
  const total = points.reduce((s, p) => s + p.requests, 0);
  const errors = points.reduce((s, p) => s + p.errors, 0);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${total} requests, ${errors} errors`, class: 'chart-svg' });
  const innerW = W - pad.l - pad.r;
  const innerH = H - pad.t - pad.b;
  const bw = innerW / Math.max(1, points.length);
  root.append(
    svg('line', { x1: pad.l, y1: pad.t + innerH, x2: W - pad.r, y2: pad.t + innerH, class: 'axis' }),
    svg('text', { x: pad.l - 4, y: pad.t + 8, class: 'tick', 'text-anchor': 'end' }, count(max)),
    svg('text', { x: pad.l - 4, y: pad.t + innerH, class: 'tick', 'text-anchor': 'end' }, '0'),
  );
  points.forEach((p, i) => {
    const x = pad.l + i * bw + bw * 0.1;
    const w = Math.max(1, bw * 0.8);
    const h = (p.requests / max) * innerH;
    const eh = (p.errors / max) * innerH;
    const g = svg('g');
    g.append(svg('title', {}, `${label(p.t, stepMs)}: ${p.requests} requests, ${p.errors} errors`));
    if (h > 0) g.append(svg('rect', { x, y: pad.t + innerH - h, width: w, height: h, class: 'bar-ok' }));
    if (eh > 0) g.append(svg('rect', { x, y: pad.t + innerH - eh, width: w, height: eh, class: 'bar-error' }));
    root.append(g);
  });
  const every = Math.max(1, Math.ceil(points.length / 6));
  points.forEach((p, i) => {
    if (i % every === 0) root.append(svg('text', { x: pad.l + i * bw, y: H - 6, class: 'tick' }, label(p.t, stepMs)));
  });
  container.replaceChildren(root);
}

/** Horizontal bars of { label, value }, largest first. */
export function labelledBars(container, rows) {
  const sorted = [...rows].sort((a, b) => b.value - a.value).slice(0, 8);
  if (sorted.length === 0) {
    const empty = document.createElement('p');
    empty.className = 'muted';
    empty.textContent = 'No tokens in this range.';
    container.replaceChildren(empty);
    return;
  }
  const W = 600;
  const row = 26;
  const H = sorted.length * row + 4;
  const max = Math.max(1, ...sorted.map((r) => r.value));
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    class: 'chart-svg',
    'aria-label': sorted.map((r) => `${r.label}: ${count(r.value)} tokens`).join('; '),
  });
  sorted.forEach((r, i) => {
    const y = i * row + 2;
    const w = Math.max(2, (r.value / max) * (W - 250));
    root.append(
      svg('text', { x: 0, y: y + 16, class: 'bar-label' }, r.label.length > 28 ? `${r.label.slice(0, 27)}…` : r.label),
      svg('rect', { x: 190, y: y + 3, width: w, height: row - 8, class: 'bar-ok' }),
      svg('text', { x: 196 + w, y: y + 16, class: 'tick' }, count(r.value)),
    );
  });
  container.replaceChildren(root);
}
