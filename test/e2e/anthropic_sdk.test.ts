import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { apiKeyProvider, configWith, startService, type RunningService } from '../support/harness.js';

const KEY = 'sk-ant-api03-sdk-e2e-provider-key-abcdefghijklmnop';

describe('the official Anthropic SDK pointed at the service', () => {
  let upstream: FakeAnthropic;
  let svc: RunningService;
  let client: Anthropic;

  beforeAll(async () => {
    upstream = await startFakeAnthropic({ auth: { mode: 'api_key', keys: new Set([KEY]) } });
    svc = await startService({ config: configWith([apiKeyProvider('primary', upstream.url, KEY)]) });
    client = new Anthropic({ baseURL: svc.url, apiKey: 'anything', maxRetries: 0 });
  });
  afterAll(async () => {
    await svc.close();
    await upstream.close();
  });

  it('messages.create', async () => {
    const message = await client.messages.create({
      model: 'claude-opus-5-5',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(message.type).toBe('message');
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from fake' });
    expect(upstream.requests.at(-1)!.headers['x-api-key']).toBe(KEY);
  });

  it('messages.stream', async () => {
    const stream = client.messages.stream({
      model: 'claude-opus-5-5',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.join('')).toBe('Hello from fake');
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from fake' });
    expect(final.stop_reason).toBe('end_turn');
  });

  it('messages.countTokens', async () => {
    const count = await client.messages.countTokens({
      model: 'claude-opus-5-5',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(count.input_tokens).toBeGreaterThan(0);
  });

  it('surfaces an upstream error as the SDK error class, with the request id', async () => {
    upstream.script({ kind: 'json', status: 400 });
    const error = await client.messages
      .create({ model: 'claude-opus-5-5', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).requestID).toMatch(/^req_/);
  });
});
