// The admin API takes the bodies people send (JSON, or a form as `curl -d code=…` sends), and
// every admin error, a body that is not JSON included, has one shape.
import { describe, expect } from 'vitest';
import { request } from 'undici';
import { it, admin, type Pool } from '../support/pool.js';

const CODE_REQUIRED = 'code is required: paste CODE#STATE as the callback page shows it';

async function post(pool: Pool, body: string, contentType: string) {
  const res = await request(`${pool.svc.url}/oauth/exchange-code`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.statusCode, json: (await res.body.json()) as any };
}

describe('/oauth/exchange-code bodies', () => {
  it('a form-encoded CODE#STATE logs the account in', async ({ startPool }) => {
    const pool = await startPool();
    const url = await admin(pool.svc.url, 'GET', '/oauth/generate-url');
    const code = await pool.oauth.approve(url.json.login_url, 'form@example.com');
    const res = await post(pool, new URLSearchParams({ code }).toString(), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'success', account_email: 'form@example.com' });
  });

  it('a missing or empty code says what to paste, in the admin shape', async ({ startPool }) => {
    const pool = await startPool();
    const expected = { status: 'error', error: 'invalid_request', message: CODE_REQUIRED };
    expect(await post(pool, '{}', 'application/json')).toEqual({ status: 400, json: expected });
    expect(await post(pool, '{"code": "  "}', 'application/json')).toEqual({ status: 400, json: expected });
    expect(await post(pool, 'code=', 'application/x-www-form-urlencoded')).toEqual({ status: 400, json: expected });
    expect(await post(pool, '', 'application/x-www-form-urlencoded')).toEqual({ status: 400, json: expected });
  });

  it('a body that is not JSON, an unknown account and an unknown admin route: the admin shape too', async ({ startPool }) => {
    const pool = await startPool();
    const notJson = await post(pool, '{"code": ', 'application/json');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toEqual({ status: 'error', error: 'invalid_request', message: expect.stringMatching(/^The request body is not valid JSON/) });
    const missing = await admin(pool.svc.url, 'DELETE', '/oauth/tokens/nobody@example.com');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ status: 'error', error: 'not_found', message: 'No account nobody@example.com in the pool.' });
    const route = await admin(pool.svc.url, 'GET', '/oauth/nothing-here');
    expect(route.status).toBe(404);
    expect(route.json).toEqual({ status: 'error', error: 'not_found', message: 'No route for GET /oauth/nothing-here.' });
  });
});
