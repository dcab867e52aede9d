// Issue 13, points 4 and 6: the dashboard in headless Chromium against the real service and the
// fakes: a login from the page, the account row, refresh and log out, the token prompt.
import { afterAll, describe, expect } from 'vitest';
import { unifiedHeaders } from '../fakes/fake-anthropic.js';
import { artifactPath, closeBrowser, openBrowser } from '../support/browser.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { it, MESSAGE_BODY } from '../support/pool.js';

const run = promisify(execFile);

const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** The page acts on events and timers; a busy machine may take a while. */
const POLL = { timeout: 15_000, interval: 50 };

afterAll(closeBrowser);

/** How the page (locale en-GB, time zone UTC) shows a reset time: HH:MM today, else with the weekday. */
function resetClock(resetSeconds: number): string {
  const at = new Date(resetSeconds * 1000);
  const time = at.toISOString().slice(11, 16);
  if (at.toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10)) return time;
  return `${at.toLocaleDateString('en-GB', { weekday: 'short', timeZone: 'UTC' })} ${time}`;
}

describe('the dashboard in a browser', () => {
  it('logs in an account from the page, shows its state and 5h window, refreshes and logs it out', { timeout: 90_000 }, async ({ startPool }) => {
    const pool = await startPool();
    // The fake's sign-in page needs to know who signs in; a real one would ask.
    const browser = await openBrowser({ extraHTTPHeaders: { 'x-fake-user': 'alice@example.com' } });
    try {
      const { page, context } = browser;
      await page.goto(`${pool.svc.url}/`);
      await expect.poll(() => page.textContent('#health-status'), POLL).toBe('down');
      expect(await page.textContent('#health-usable')).toBe('0/0 accounts usable');
      expect(await page.isVisible('#no-accounts')).toBe(true);

      // The button opens the sign-in page in a new tab; it ends on the page showing CODE#STATE.
      const signInTab = context.waitForEvent('page');
      await page.getByRole('button', { name: 'Log in an account' }).click();
      const tab = await signInTab;
      await tab.waitForLoadState();
      expect(tab.url()).toMatch(new RegExp(`^${pool.oauth.redirectUri}\\?code=`));
      const pasted = (await tab.textContent('body'))!.trim();
      expect(pasted).toMatch(/^[A-Za-z0-9_-]+#[A-Za-z0-9_-]+$/);
      await tab.close();

      await page.getByLabel('Code (CODE#STATE) or callback URL').fill(pasted);
      await page.getByRole('button', { name: 'Add the account' }).click();
      await expect.poll(() => page.textContent('#login-message'), POLL).toMatch(
        /^Logged in alice@example\.com\. Its token expires \S+ \(in 8h 0m\) and is refreshed automatically\. The pool now holds 1 account\.$/,
      );
      // The row appears without a reload.
      const row = page.locator('tr[data-email="alice@example.com"]');
      await expect.poll(() => row.locator('.badge').textContent(), POLL).toBe('active');
      expect(await page.textContent('#health-status')).toBe('ok');
      expect(pool.svc.service.oauth.pool.list().map((a) => a.email)).toEqual(['alice@example.com']);

      // A request made with curl: a response reporting the 5-hour window at 42 %, resetting in
      // two hours. The activity log shows it and the row follows, without a reload.
      const reset = Math.floor(Date.now() / 1000) + 2 * 3600;
      pool.upstream.script({ kind: 'json', headers: unifiedHeaders({ status: 'allowed', reset, util5h: 0.42, util7d: 0.1 }) });
      const curl = await run('curl', [
        '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/json', '-H', 'anthropic-version: 2023-06-01',
        '--data', MESSAGE_BODY, `${pool.svc.url}/v1/messages`,
      ]);
      expect(curl.stdout).toBe('200');
      const logged = page.locator('#activity li.request').first();
      await expect.poll(() => logged.textContent(), POLL).toMatch(
        // The model and token counts are the fake's (12 input tokens, one output token per word of "Hello from fake").
        /^\d\d:\d\d:\d\d200alice@example\.com · claude-sonnet-4-5 · \d+(\.\d)? ms · 12 in \/ 3 out$/,
      );
      await expect.poll(() => row.locator('td[data-label="5 h window"] meter').getAttribute('value'), POLL).toBe('0.42');
      expect(await row.locator('td[data-label="5 h window"] .window-text').textContent()).toMatch(/^42% · resets in (1h 59m|2h 0m)$/);
      expect(await row.locator('td[data-label="7 d window"] meter').getAttribute('value')).toBe('0.1');
      // The page names the weekday when the reset is not today (in its UTC time zone): after 22:00 UTC it is tomorrow.
      const before = resetClock(reset);
      const shown = await page.textContent('#health-reset');
      const after = resetClock(reset);
      const clocks = [...new Set([before, after])].join('|');
      expect(shown).toMatch(new RegExp(`^next reset (${clocks}) \\(in (1h 59m|2h 0m), alice@example\\.com 5h window\\)$`));
      // The usage statistics: today's counts in the row and the charts, from /admin/usage.
      await expect.poll(() => row.locator('td[data-label="Today"]').textContent(), POLL).toBe('1 requests · 15 tokens');
      expect(await page.textContent('#usage-message')).toBe('');
      await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });

      await row.getByRole('button', { name: 'Refresh alice@example.com' }).click();
      await expect.poll(() => page.textContent('#login-message'), POLL).toMatch(/^Refreshed alice@example\.com; the token now expires /);
      expect(pool.oauth.refreshCallsFor('alice@example.com')).toBe(1);

      // Log out asks first; a "no" changes nothing.
      page.once('dialog', (d) => void d.dismiss());
      await row.getByRole('button', { name: 'Log out alice@example.com' }).click();
      expect(pool.svc.service.oauth.pool.list()).toHaveLength(1);
      page.once('dialog', (d) => {
        expect(d.message()).toBe('Log out alice@example.com? Its tokens are removed from the pool.');
        void d.accept();
      });
      await row.getByRole('button', { name: 'Log out alice@example.com' }).click();
      await expect.poll(() => row.count(), POLL).toBe(0);
      expect(pool.svc.service.oauth.pool.list()).toHaveLength(0);
      expect(await page.isVisible('#no-accounts')).toBe(true);

      expect(browser.errors.filter((e) => e.startsWith(pool.svc.url))).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('says what went wrong with a bad code, in the login command\'s words', { timeout: 60_000 }, async ({ startPool }) => {
    const pool = await startPool();
    const browser = await openBrowser();
    try {
      const { page } = browser;
      await page.goto(`${pool.svc.url}/`);
      await page.getByRole('button', { name: 'Log in an account' }).click();
      await page.getByLabel('Code (CODE#STATE) or callback URL').fill('not-a-code#no-such-state');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.textContent('#login-message'), POLL).toMatch(/^That did not work: .*Starting a new login/);
      expect(pool.svc.service.oauth.pool.list()).toHaveLength(0);
      expect(browser.errors.filter((e) => e.startsWith(pool.svc.url) && !/status of 400/.test(e))).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('asks for the admin token once and keeps the session in an HttpOnly, SameSite=Strict cookie', { timeout: 60_000 }, async ({ startPool }) => {
    const pool = await startPool({ settings: { admin_token: ADMIN_TOKEN } });
    const browser = await openBrowser();
    try {
      const { page, context } = browser;
      await page.goto(`${pool.svc.url}/`);
      const field = page.getByLabel('Admin token (settings.admin_token)');
      await field.fill('wrong-token');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.textContent('#sign-in-message'), POLL).toBe('That is not the admin token (settings.admin_token).');
      await field.fill(ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Open the dashboard' }).click();
      await expect.poll(() => page.textContent('#health-status'), POLL).toBe('down');
      expect(await page.isVisible('#sign-in')).toBe(false);

      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({ name: 'ccb_dashboard', httpOnly: true, sameSite: 'Strict', path: '/' });
      expect(await page.evaluate('document.cookie')).toBe('');

      await page.reload();
      await expect.poll(() => page.textContent('#health-status'), POLL).toBe('down');
      expect(await page.isVisible('#sign-in')).toBe(false);
      expect(browser.errors.filter((e) => e.startsWith(pool.svc.url) && !/status of 401/.test(e))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
