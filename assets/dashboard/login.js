// Logging in from the page: a login from the service, its sign-in page in a new tab, the pasted
// code exchanged; messages in the words of `claude-code-balancer login`.
import { call, oauthPath } from './api.js';
import { duration } from './format.js';

let login = null;

const $ = (id) => document.getElementById(id);

function say(text, isError = false) {
  const message = $('login-message');
  message.textContent = text;
  message.classList.toggle('error-text', isError);
}

async function newLogin(openTab) {
  login = await call('GET', oauthPath('/generate-url'));
  $('login-link').setAttribute('href', login.login_url);
  if (openTab) window.open(login.login_url, '_blank', 'noopener,noreferrer');
}

/** Starts a login (for `email`, when it is a login again) and shows the field for the code. */
export async function startLogin(email) {
  say('');
  try {
    await newLogin(true);
  } catch (err) {
    say(`The balancer could not start a login: ${err.message}`, true);
    return;
  }
  $('login-email').value = email ?? '';
  $('login-code').value = '';
  $('login-form').hidden = false;
  $('login-start').hidden = true;
  $('login-code').focus();
}

function closeLogin() {
  $('login-form').hidden = true;
  $('login-start').hidden = false;
  login = null;
}

/** Wires the button and the form; `changed()` reloads the accounts after a login. */
export function setUpLogin(changed) {
  $('login-start').addEventListener('click', () => startLogin());
  $('login-cancel').addEventListener('click', () => {
    closeLogin();
    say('Login cancelled; nothing changed.');
    $('login-start').focus();
  });
  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const pasted = $('login-code').value.trim();
    if (!pasted || !login) return;
    const code = pasted.includes('#') || /^https?:/i.test(pasted) ? pasted : `${pasted}#${login.state}`;
    const email = $('login-email').value.trim();
    const submit = event.submitter ?? $('login-form').querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const body = await call('POST', oauthPath('/exchange-code'), { code, ...(email ? { account_email: email } : {}) });
      const expiresIn = duration(Date.parse(body.expires_at) - Date.now());
      closeLogin();
      say(
        `Logged in ${body.account_email}. Its token expires ${body.expires_at} (in ${expiresIn}) and is refreshed automatically. ` +
          `The pool now holds ${body.total_accounts} account${body.total_accounts === 1 ? '' : 's'}.`,
      );
      changed();
      $('login-start').focus();
    } catch (err) {
      const b = err.body ?? {};
      const why = b.message ?? b.error_description ?? b.error ?? `HTTP ${err.status}`;
      if (b.error === 'no_pending_login') {
        await newLogin(false).catch(() => {});
        say(`That did not work: ${why} Starting a new login: open the sign-in page again (the link above).`, true);
      } else {
        const until = new Date(login.expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        say(`That did not work: ${why} Codes are single-use: open the URL again for a fresh code (it is valid until ${until}).`, true);
      }
      $('login-code').select();
    } finally {
      submit.disabled = false;
    }
  });
}
