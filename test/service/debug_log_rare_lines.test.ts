// Two DEBUG lines the main debug-log scenario does not reach: an account picked whose token could
// not be made usable, and a refresh another instance did while this one waited for the right.
import { describe, expect } from 'vitest';
import { eventually, fakeClock, HOUR, it, postMessage } from '../support/pool.js';

type Line = Record<string, unknown>;
const debugLines = (logs: string[], from: number): Line[] =>
  logs
    .slice(from)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.level === 'debug')
    .map(({ time, level, ...rest }) => rest);

describe('log_level: DEBUG, rarer lines', () => {
  it('"picked account not ready; picking again": an expired token whose refresh fails', async ({ startPool }) => {
    const clock = fakeClock();
    const pool = await startPool({ clock, settings: { log_level: 'DEBUG' }, accounts: ['alice@example.com'] });
    clock.jump(48 * HOUR);
    pool.oauth.failNext(1, 500);
    const mark = pool.svc.logs.length;
    await postMessage(pool.svc.url);
    const request = await eventually(() => {
      const found = pool.svc.logs.slice(mark).map((l) => JSON.parse(l) as Line).find((l) => l.msg === 'request');
      expect(found).toBeDefined();
      return found!;
    });
    const notReady = debugLines(pool.svc.logs, mark).filter((l) => l.msg === 'picked account not ready; picking again');
    expect(notReady).toEqual([
      { req_id: request.req_id, provider: 'Claude Code Official', account: 'alice@example.com', state: 'cooling_down', msg: 'picked account not ready; picking again' },
    ]);
  });
});
