// Attack (#10.3, found in review): the service listens on 0.0.0.0, so /v1 needs a client key.
// Someone edits providers.yaml to `host: 127.0.0.1` and reloads: the listener is still on every
// interface (host needs a restart), so /v1 must still need a key. It used to judge exposure by
// the reloaded settings.host and serve anyone on the network without one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyProvider, configWith } from '../support/harness.js';
import { httpRequest, jsonBody, messagesBody, startConformance, UPSTREAM_KEY, type ConformanceSetup } from './support.js';

const ADMIN_TOKEN = 'an-admin-token-0123456789';

describe('a reload that names a loopback host while the listener is on 0.0.0.0', () => {
  let setup: ConformanceSetup;
  beforeAll(async () => {
    setup = await startConformance({ settings: { host: '0.0.0.0', admin_token: ADMIN_TOKEN } });
  });
  afterAll(() => setup.close());

  it('says a restart is needed, and /v1 still answers 401 without a key; nothing goes upstream', async () => {
    const port = new URL(setup.url).port;
    setup.service.writeConfig(configWith([apiKeyProvider('upstream', setup.upstream.url, UPSTREAM_KEY)], { host: '127.0.0.1', admin_token: ADMIN_TOKEN }));
    const reload = await setup.send(httpRequest('POST', '/admin/reload', { host: `localhost:${port}`, authorization: `Bearer ${ADMIN_TOKEN}` }));
    expect(reload.response!.status).toBe(200);
    expect(jsonBody(reload.response!)).toMatchObject({ status: 'reloaded', needs_restart: ['host'] });

    const { response } = await setup.send(
      httpRequest('POST', '/v1/messages', { host: `localhost:${port}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, messagesBody()),
    );
    expect(response!.status).toBe(401);
    expect(jsonBody(response!).error.type).toBe('authentication_error');
    expect(jsonBody(response!).error.message).toMatch(/listens on 0\.0\.0\.0/);
    expect(setup.upstream.records).toEqual([]);
  });
});
