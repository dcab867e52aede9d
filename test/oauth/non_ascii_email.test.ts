import { afterEach, describe, expect, it } from 'vitest';
import { postMessage, startPool, type Pool } from './support.js';

let pool: Pool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('an account email outside ASCII (regression)', () => {
  it('serves, with the email percent-encoded in x-balancer-account instead of crashing the response', async () => {
    pool = await startPool({ accounts: ['jürgen@exämple.com'] });
    const res = await postMessage(pool.svc.url);
    expect(res.status).toBe(200);
    expect(decodeURIComponent(String(res.headers['x-balancer-account']))).toBe('jürgen@exämple.com');
  });
});
