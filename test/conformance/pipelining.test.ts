import { afterAll, beforeAll, expect, test } from 'vitest';
import { httpRequest, jsonBody, messagesBody, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
beforeAll(async () => {
  setup = await startConformance();
});
afterAll(() => setup.close());

test('pipelined requests on one connection are answered in order, each forwarded once', async () => {
  const client = await setup.connect();
  const a = httpRequest('POST', '/v1/messages?n=1', { 'content-type': 'application/json' }, messagesBody({ max_tokens: 1 }));
  const b = httpRequest('POST', '/v1/messages?n=2', { 'content-type': 'application/json' }, messagesBody({ max_tokens: 2 }));
  await client.write(Buffer.concat([a, b]));
  const first = await client.read();
  const second = await client.read();
  expect(first.status).toBe(200);
  expect(second.status).toBe(200);
  expect(jsonBody(first).id).toBe('msg_conformance');
  client.destroy();
  expect(setup.upstream.records.map((r) => r.target)).toEqual(['/v1/messages?n=1', '/v1/messages?n=2']);
  expect(setup.upstream.records.map((r) => JSON.parse(r.body.toString()).max_tokens)).toEqual([1, 2]);
});
