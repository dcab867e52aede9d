// The account rows: state, utilization windows, today's usage, and the refresh / log out actions.
import { call, oauthPath } from './api.js';
import { clock, count, duration, el, percent } from './format.js';

const STATE_LABELS = {
  usable: 'active',
  refreshing: 'refreshing',
  cooling_down: 'cooling down',
  rate_limited: 'rate limited',
  needs_login: 'needs login',
  banned: 'banned',
  disabled: 'removed',
};

function stateCell(account) {
  const { availability } = account;
  let label = STATE_LABELS[availability.state] ?? availability.state;
  if (availability.until) label += ` until ${clock(availability.until)}`;
  const cell = el('td', { 'data-label': 'State' }, el('span', { class: `badge state-${availability.state}`, text: label }));
  if (availability.reason) cell.append(el('small', { class: 'reason', text: availability.reason }));
  return cell;
}

function windowCell(label, utilization, resetsAt, now) {
  const cell = el('td', { 'data-label': label });
  if (utilization === null || utilization === undefined) {
    cell.append(el('span', { class: 'muted', text: 'not reported yet' }));
    return cell;
  }
  const text = percent(utilization) + (resetsAt ? ` · resets in ${duration(Date.parse(resetsAt) - now)}` : '');
  cell.append(
    el('meter', { min: 0, max: 1, low: 0.7, high: 0.9, optimum: 0, value: Math.min(utilization, 1), 'aria-label': `${label} utilization ${text}` }),
    el('span', { class: 'window-text', text }),
  );
  return cell;
}

function todayCell(today) {
  if (!today) return el('td', { 'data-label': 'Today', class: 'muted', text: '–' });
  return el('td', { 'data-label': 'Today', text: `${count(today.requests)} requests · ${count(today.tokens)} tokens` });
}

/**
 * Renders one row per account. `actions.login(email)` starts a login for an account that needs
 * one; `actions.changed()` reloads the overview after an action; `actions.say(text)` reports.
 */
export function renderAccounts(overview, usageToday, actions) {
  const rows = document.getElementById('account-rows');
  const now = Date.now();
  rows.replaceChildren();
  document.getElementById('no-accounts').hidden = overview.accounts.length > 0;
  document.getElementById('accounts').hidden = overview.accounts.length === 0;
  for (const account of overview.accounts) {
    const email = account.account_email;
    const rl = account.rate_limit;
    const refresh = el('button', { type: 'button', class: 'quiet', 'aria-label': `Refresh ${email}`, text: 'Refresh' });
    const logout = el('button', { type: 'button', class: 'danger', 'aria-label': `Log out ${email}`, text: 'Log out' });
    refresh.addEventListener('click', () => refreshAccount(email, refresh, actions));
    logout.addEventListener('click', () => logoutAccount(email, actions));
    const buttons = el('div', { class: 'buttons' }, refresh, logout);
    if (['needs_login', 'banned'].includes(account.availability.state)) {
      const again = el('button', { type: 'button', 'aria-label': `Log in ${email} again`, text: 'Log in again' });
      again.addEventListener('click', () => actions.login(email));
      buttons.prepend(again);
    }
    rows.append(
      el(
        'tr',
        { 'data-email': email },
        el('th', { scope: 'row', 'data-label': 'Account' }, el('span', { class: 'email', text: email }),
          account.organization_name ? el('small', { class: 'reason', text: account.organization_name }) : null),
        stateCell(account),
        windowCell('5 h window', rl.utilization_5h, rl.resets_5h_at, now),
        windowCell('7 d window', rl.utilization_7d, rl.resets_7d_at, now),
        todayCell(usageToday?.get(email.toLowerCase())),
        el('td', { 'data-label': 'Last used', text: account.last_used }),
        el('td', { 'data-label': 'Last error', class: account.last_error ? 'error-text' : 'muted', text: account.last_error ?? '–' }),
        el('td', { 'data-label': 'Actions' }, buttons),
      ),
    );
  }
}

async function refreshAccount(email, button, actions) {
  button.disabled = true;
  try {
    const body = await call('POST', oauthPath(`/refresh/${encodeURIComponent(email)}`));
    actions.say(`Refreshed ${email}; the token now expires ${body.expires_at} (in ${duration(Date.parse(body.expires_at) - Date.now())}).`);
  } catch (err) {
    const hint = err.body?.account_status === 'needs_login' ? ' Log in again with “Log in again”.' : '';
    actions.say(`Refresh of ${email} failed: ${err.body?.error ?? err.message}${hint}`, true);
  } finally {
    button.disabled = false;
    actions.changed();
  }
}

async function logoutAccount(email, actions) {
  if (!window.confirm(`Log out ${email}? Its tokens are removed from the pool.`)) return;
  try {
    const body = await call('DELETE', oauthPath(`/tokens/${encodeURIComponent(email)}`));
    actions.say(`Removed ${email}. ${body.remaining ?? 0} account(s) left.`);
  } catch (err) {
    actions.say(`Removing ${email} failed: ${err.message}`, true);
  }
  actions.changed();
}
