// Issue 13, point 4: the dashboard's server-sent events carry pool events and finished requests,
// names and numbers only, and cost the request path nothing while no page is open.
import { Client } from 'undici';
import { expect } from 'vitest';
import { parseSse } from '../fakes/fake-anthropic.js';
import { visitPage } from '../support/dashboard.js';
import { eventually, it, postMessage } from '../support/pool.js';

it('streams an account event and a finished request, never a token, and stops listening when the page goes', async ({ startPool }) => {
  const pool = await startPool();
  const { service } = pool.svc;
  expect(service.activity.listening).toBe(false);
  const page = await visitPage(pool.svc.url);
  // Its own connection, closed at the end as a browser closes an EventSource's.
  const browser = new Client(pool.svc.url);
  const res = await browser.request({ method: 'GET', path: '/dashboard/events', headers: { cookie: page.cookie!, accept: 'text/event-stream' } });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  let text = '';
  res.body.setEncoding('utf8');
  res.body.on('data', (chunk: string) => (text += chunk));
  await eventually(() => expect(service.activity.listening).toBe(true));

  expect((await pool.login('alice@example.com')).status).toBe(200);
  expect((await postMessage(pool.svc.url)).status).toBe(200);
  await eventually(() => expect(parseSse(text).map((e) => e.event)).toEqual(['pool', 'activity']));

  const [added, activity] = parseSse(text).map((e) => e.data as Record<string, unknown>);
  expect(added).toEqual({ type: 'account_added', account: 'alice@example.com', reason: 'logged in', at: expect.any(Number) });
  expect(Object.keys(activity).sort()).toEqual(['account', 'at', 'model', 'ms', 'provider', 'status', 'tokens', 'ttfb_ms']);
  // The model and token counts are what the usage tap read from the fake's response.
  expect(activity).toMatchObject({
    provider: 'Claude Code Official',
    account: 'alice@example.com',
    status: 200,
    model: 'claude-sonnet-4-5',
    tokens: { input: 23, output: 3, cache_creation: 0, cache_read: 0 }, // the fake's default: input = body length / 4
  });
  const record = pool.account('alice@example.com').record;
  expect(text).not.toContain(record.access_token);
  expect(text).not.toContain(record.refresh_token!);
  expect(text).not.toContain('client-placeholder-token');

  await browser.destroy();
  await eventually(() => expect(service.activity.listening).toBe(false));
});
