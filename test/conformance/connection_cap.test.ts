// Attack (#10.6): connections were not capped; past the fd limit the service failed everyone.
// Past settings.max_connections new connections are refused while those open are still served,
// and the cap is kept below what the process's open-file limit allows.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConnectionLimits, connectionCap, openFileLimit } from '../../src/http/connection-limits.js';
import { createLogger } from '../../src/logging/logger.js';
import { settingsSchema } from '../../src/config/schema.js';
import { httpRequest, messagesBody, RawClient, startConformance, type ConformanceSetup } from './support.js';

let setup: ConformanceSetup;
beforeAll(async () => {
  setup = await startConformance({ settings: { max_connections: 3 } });
});
afterAll(() => setup.close());

describe('settings.max_connections: 3', () => {
  it('a 4th connection is closed without an answer; the 3 open ones are served', async () => {
    const open = [await setup.connect(), await setup.connect(), await setup.connect()];
    // Node counts a connection once it has been accepted: wait until all three are.
    for (let i = 0; i < 100 && (await connections()) < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await connections()).toBe(3);
    const fourth = await RawClient.connect(setup.url);
    expect(await fourth.waitClosed(5000)).toBe(true);
    expect(fourth.pending.length).toBe(0);
    for (const client of open) {
      await client.write(httpRequest('POST', '/v1/messages', { host: `localhost:${setup.port}`, 'content-type': 'application/json' }, messagesBody()));
      expect((await client.read()).status).toBe(200);
      client.destroy();
    }
    expect(setup.upstream.records.length).toBe(3);
  });
});

function connections(): Promise<number> {
  return new Promise((resolve, reject) => setup.service.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

describe('the open-file limit', () => {
  it('is read from the system', () => {
    expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('caps max_connections at half of what the reserve leaves, with a warning naming both numbers', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(l) } });
    const server = http.createServer();
    const settings = settingsSchema.parse({});
    expect(settings.max_connections).toBe(4096);
    expect(settings.timeouts.request_ms).toBe(60_000);
    applyConnectionLimits(server, settings, log, 1024);
    expect(server.maxConnections).toBe(480);
    expect(server.headersTimeout).toBe(60_000);
    log.flush();
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.level === 'warn');
    expect(warning).toMatchObject({ max_connections: 4096, open_file_limit: 1024, using: 480 });
  });

  it('leaves max_connections alone when the limit allows it', () => {
    expect(connectionCap(4096, 1_048_576)).toBe(4096);
    expect(connectionCap(4096, undefined)).toBe(4096);
  });
});
