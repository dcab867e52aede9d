// The live activity log: the service's server-sent events, newest first, at most MAX entries.
import { count, el } from './format.js';

const MAX = 100;

function time(at) {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function tokens(t) {
  if (!t) return null;
  const parts = [`${count(t.input ?? 0)} in`, `${count(t.output ?? 0)} out`];
  if (t.cache_read) parts.push(`${count(t.cache_read)} cache read`);
  if (t.cache_creation) parts.push(`${count(t.cache_creation)} cache write`);
  return parts.join(' / ');
}

function add(entry) {
  const list = document.getElementById('activity');
  list.prepend(entry);
  while (list.children.length > MAX) list.lastElementChild.remove();
  document.getElementById('activity-empty').hidden = true;
}

function requestEntry(e) {
  const ok = typeof e.status === 'number' && e.status < 400;
  const fields = [
    e.account ?? e.provider,
    e.model,
    e.ms !== undefined ? `${Math.round(e.ms)} ms` : null,
    tokens(e.tokens),
    e.key ? `key ${e.key}` : null,
  ].filter(Boolean);
  return el(
    'li',
    { class: 'request' },
    el('time', { datetime: new Date(e.at).toISOString(), text: time(e.at) }),
    el('span', { class: `badge ${ok ? 'state-usable' : 'state-rate_limited'}`, text: String(e.status ?? '–') }),
    el('span', { text: fields.join(' · ') }),
  );
}

function poolEntry(e) {
  return el(
    'li',
    { class: 'pool-event' },
    el('time', { datetime: new Date(e.at).toISOString(), text: time(e.at) }),
    el('span', { class: 'badge', text: e.type.replace(/_/g, ' ') }),
    el('span', { text: [e.account, e.reason].filter(Boolean).join(': ') }),
  );
}

/** Opens the stream; `poolChanged()` is called for every event (the rows reload: state, last used, today). */
export function startActivity(poolChanged) {
  const state = document.getElementById('activity-state');
  const source = new EventSource('/dashboard/events');
  source.addEventListener('open', () => {
    state.textContent = 'live';
    state.className = 'badge state-usable';
    poolChanged();
  });
  source.addEventListener('error', () => {
    state.textContent = 'reconnecting';
    state.className = 'badge state-cooling_down';
  });
  source.addEventListener('activity', (m) => {
    add(requestEntry(JSON.parse(m.data)));
    poolChanged();
  });
  source.addEventListener('pool', (m) => {
    const event = JSON.parse(m.data);
    add(poolEntry(event));
    poolChanged();
  });
  return source;
}
