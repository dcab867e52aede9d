// Issue 10, point 5: a 32 MiB JSON nesting bomb used to be JSON.parse'd on the main thread (1.15 GB
// and 8.9 s each; five at once crashed the process). Bodies are now kept as bytes: one that is no
// JSON object is refused at its first byte, one that is goes upstream exactly as sent (its
// deeper errors are the upstream's), and the service stays up and answers a small request meanwhile.
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { alive, MiB, messagesHead, sendBig, startBigBodySetup, type BigBodySetup } from './big-bodies.js';
import { jsonBody, messagesBody } from './support.js';

const SIZE = 32 * MiB - 1024;
// No x-claude-code-session-id and a "user_id" up front: the session lookup has to scan this body.
const prefix = '{"metadata":{"user_id":"{\\"session_id\\":\\"s\\"}"},"model":"m","a":';
const depth = (SIZE - prefix.length - 1) / 2;
const objectBomb = Buffer.from(prefix + '['.repeat(Math.floor(depth)) + ']'.repeat(Math.ceil(depth)) + '}');
const arrayBomb = Buffer.from('['.repeat(SIZE / 2) + ']'.repeat(SIZE / 2));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let setup: BigBodySetup;
beforeAll(async () => {
  setup = await startBigBodySetup();
}, 90_000);
afterAll(() => setup?.close());

test('five concurrent 32 MiB nesting bombs: refused or forwarded as bytes, the service stays up and answers a small request meanwhile', { timeout: 180_000 }, async () => {
  expect(objectBomb.length).toBe(SIZE);
  const bombs = [
    ...Array.from({ length: 5 }, () => sendBig(setup.service.url, messagesHead(SIZE), objectBomb, 120_000)),
    ...Array.from({ length: 5 }, () => sendBig(setup.service.url, messagesHead(SIZE), arrayBomb, 120_000)),
  ];

  const started = performance.now();
  const small = await request(`${setup.service.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-claude-code-session-id': 'small' },
    body: messagesBody({ max_tokens: 7 }),
    headersTimeout: 60_000,
  });
  const smallMs = performance.now() - started;
  expect(small.statusCode).toBe(200);
  await small.body.dump();
  console.log(`[nesting_bomb] small request answered in ${smallMs.toFixed(0)} ms while 10 bombs were in flight`);

  const answers = await Promise.all(bombs);
  for (const answer of answers.slice(0, 5)) {
    expect(answer.failure).toBeUndefined();
    expect(answer.response!.status).toBe(200);
  }
  for (const answer of answers.slice(5)) {
    expect(answer.failure).toBeUndefined();
    expect(answer.response!.status).toBe(400);
    expect(jsonBody(answer.response!)).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'The request body must be a JSON object (it must start with "{").' },
    });
  }

  // What reached the upstream: the small request and the five object bombs, byte for byte; no array bomb.
  const records = setup.upstream.records;
  expect(records).toHaveLength(6);
  const bombRecords = records.filter((r) => r.body.length === SIZE);
  expect(bombRecords).toHaveLength(5);
  for (const r of bombRecords) expect(sha(r.body)).toBe(sha(objectBomb));
  expect(records.filter((r) => r.body[0] === 0x5b)).toHaveLength(0);

  expect(alive(setup.service)).toBe(true);
  const health = await request(`${setup.service.url}/health`);
  expect(health.statusCode).toBe(200);
  await health.body.dump();
});
