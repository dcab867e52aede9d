// The dashboard page: signs in when the service asks for the admin token, then shows the pool
// (header and account rows), usage charts and the live activity log, kept current by the
// service's events.
import { renderAccounts } from './accounts.js';
import { startActivity } from './activity.js';
import { call, setCsrf } from './api.js';
import { clock, duration } from './format.js';
import { setUpLogin, startLogin } from './login.js';
import { loadUsage, setUpUsage, setUsageAvailable, usageToday } from './usage.js';

const $ = (id) => document.getElementById(id);
let overview = null;
let reloadTimer = null;
let lastReload = 0;

function say(text, isError = false) {
  const message = $('login-message');
  message.textContent = text;
  message.classList.toggle('error-text', isError);
}

function renderHealth(health) {
  const status = $('health-status');
  status.textContent = health.status;
  status.className = `badge health-${health.status}`;
  $('health-usable').textContent = `${health.usable}/${health.total} accounts usable`;
  const next = health.next_reset;
  $('health-reset').textContent = next
    ? `next reset ${clock(next.at)} (in ${duration(Date.parse(next.at) - Date.now())}, ${next.account} ${next.what === 'limit' ? 'limit' : `${next.what} window`})`
    : '';
}

function render() {
  if (!overview) return;
  renderHealth(overview.health);
  renderAccounts(overview, usageToday(), { login: startLogin, changed: reloadSoon, say });
}

async function reload() {
  overview = await call('GET', '/dashboard/api/overview');
  $('sign-out').hidden = !overview.admin_token;
  setUsageAvailable(overview.usage);
  render();
}

/** Events come in bursts (a login, a refresh, busy traffic): one reload for a burst, at most one per 2 s. */
function reloadSoon() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    lastReload = Date.now();
    reload().catch(showError);
    loadUsage().then(render, () => {});
  }, Math.max(150, lastReload + 2000 - Date.now()));
}

function showError(err) {
  if (err.status === 401) return askForToken();
  say(`The dashboard could not load the pool: ${err.message}`, true);
}

function askForToken() {
  $('dashboard').hidden = true;
  $('sign-in').hidden = false;
  $('admin-token').focus();
}

async function open() {
  $('sign-in').hidden = true;
  $('dashboard').hidden = false;
  await reload();
  setUpLogin(reloadSoon);
  setUpUsage(render);
  loadUsage().then(render, () => {});
  startActivity(reloadSoon);
  // Every change arrives as an event; countdowns move on by themselves, and a slow reload is
  // only a safety net for an event lost between two connections.
  setInterval(render, 15_000);
  setInterval(() => reload().catch(showError), 300_000);
}

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('admin-token');
  try {
    const body = await call('POST', '/dashboard/session', { token: input.value });
    input.value = '';
    setCsrf(body.csrf);
    await open();
  } catch (err) {
    $('sign-in-message').textContent = err.message;
    input.select();
  }
});

$('sign-out').addEventListener('click', async () => {
  await call('DELETE', '/dashboard/session').catch(() => {});
  window.location.reload();
});

call('GET', '/dashboard/api/overview').then(
  () => open().catch(showError),
  showError,
);
