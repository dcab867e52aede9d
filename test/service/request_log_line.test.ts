import { describe, expect, it } from 'vitest';
import { createLogger, logRequestLine, type RequestLogLine } from '../../src/logging/logger.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

/** The keys in the order app.ts passes them, which is the order pino writes them in. */
const ORDER: (keyof RequestLogLine)[] = [
  'req_id', 'method', 'path', 'provider', 'account', 'client_key', 'attempts', 'status', 'client_closed', 'duration_ms', 'bytes', 'upstream_request_id', 'error',
];
const ordered = (fields: RequestLogLine) => Object.fromEntries(ORDER.map((k) => [k, fields[k]]));

const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

describe('the per-request log line', () => {
  const cases: RequestLogLine[] = [
    {
      req_id: 'req-1',
      method: 'POST',
      path: '/v1/messages?beta=true',
      provider: 'primary',
      account: 'a@example.com',
      client_key: 'laptop',
      attempts: 2,
      status: 200,
      duration_ms: 12.3,
      bytes: 601,
      upstream_request_id: 'req_abc',
    },
    { req_id: 'req-2', method: 'GET', path: '/', duration_ms: 0.1, status: 404 },
    {
      req_id: 'req-3',
      method: 'POST',
      path: '/v1/messages?q="quoted"\\back\tslash',
      provider: 'p "1"',
      attempts: 1,
      client_closed: true,
      duration_ms: 5,
      bytes: 0,
      error: 'All providers failed: a: HTTP 529; b (x@y): connection refused\nnext line é ✓',
    },
    { req_id: 'req-4', method: 'POST', path: '/v1/x?key=sk-ant-api03-SECRETsecretSECRET', duration_ms: 1, error: 'Bearer abcdefghijklmnop' },
  ];

  it('is byte for byte what pino writes for logger.info(fields, "request")', () => {
    for (const fields of cases) {
      const viaPino = capture();
      viaPino.logger.info(ordered(fields), 'request');
      const fast = capture();
      logRequestLine(fast.logger, fields);
      expect(fast.lines).toHaveLength(1);
      expect(withoutTime(fast.lines[0])).toBe(withoutTime(viaPino.lines[0]));
      expect(JSON.parse(fast.lines[0]).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('redacts secrets like every other line, and is not written below info', () => {
    const fast = capture();
    logRequestLine(fast.logger, cases[3]);
    expect(fast.lines[0]).not.toContain('SECRET');
    expect(fast.lines[0]).toContain('Bearer [REDACTED]');
    const quiet = capture('warn');
    logRequestLine(quiet.logger, cases[0]);
    expect(quiet.lines).toHaveLength(0);
  });
});
