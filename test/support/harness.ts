import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/oauth/clock.js';
import { Service } from '../../src/service.js';
import { MemoryTokenStore } from '../../src/store/memory-store.js';
import type { TokenStore } from '../../src/store/token-store.js';

export interface RunningService {
  url: string;
  service: Service;
  app: FastifyInstance;
  configPath: string;
  /** Every JSON log line written so far. */
  logs: string[];
  /** Every auth-required banner printed so far. */
  banners: string[];
  store: TokenStore;
  writeConfig(config: unknown): void;
  close(): Promise<void>;
}

export interface StartOptions {
  /** The providers.yaml content, as an object (dumped to YAML) or as YAML text. */
  config: unknown;
  store?: TokenStore;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

/** Starts the real service in-process on a loopback port, with its log lines captured. */
export async function startService(options: StartOptions): Promise<RunningService> {
  const dir = mkdtempSync(join(tmpdir(), 'ccb-test-'));
  const configPath = join(dir, 'providers.yaml');
  const writeConfig = (config: unknown) =>
    writeFileSync(configPath, typeof config === 'string' ? config : yaml.dump(config));
  writeConfig(options.config);
  const env = options.env ?? process.env;
  const config = await loadConfig(configPath, env);
  const logs: string[] = [];
  const banners: string[] = [];
  const store = options.store ?? new MemoryTokenStore();
  const service = await Service.create({
    config,
    configPath,
    env,
    store,
    clock: options.clock,
    logDestination: { write: (line: string) => void logs.push(line) },
    printBanner: (text) => void banners.push(text),
  });
  const app = buildApp(service);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  service.setListenUrl(url);
  let closing: Promise<void> | undefined;
  return {
    url,
    service,
    app,
    configPath,
    logs,
    banners,
    store,
    writeConfig,
    // Idempotent: a test may stop the service itself before the fixture closes everything.
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await service.close();
      })()),
  };
}

/** A providers.yaml with the given providers and settings. */
export function configWith(providers: object[], settings: Record<string, unknown> = {}) {
  return { providers, settings: { log_level: 'info', ...settings } };
}

export function apiKeyProvider(name: string, baseUrl: string, key = 'sk-ant-api03-test-key-0123456789abcdefghij') {
  return { name, type: 'anthropic', base_url: baseUrl, auth_type: 'api_key', auth_value: key };
}
