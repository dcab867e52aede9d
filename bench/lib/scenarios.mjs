// The scenarios: the service configured one way (API key, OAuth pool), measured by the phases.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeClaudeCodeTemplate } from './claude-code-body.mjs';
import { BENCH_API_KEY, CLIENT_API_KEY, CLIENT_BETA, OAUTH_BETA, PHASES, opts } from './options.mjs';
import { startNginx } from './nginx.mjs';
import { concurrentStreams, soak, throughput } from './phases.mjs';
import { statusMb } from './proc.mjs';
import { countLines, startFloor, startService } from './processes.mjs';
import { startRedis } from './redis.mjs';
import { log, round } from './stats.mjs';

export function baseSettings(extraOAuth = {}) {
  return {
    log_level: 'info',
    host: '127.0.0.1',
    oauth: { enable_persistence: false, ...extraOAuth },
  };
}

function apiKeyConfig(upstream) {
  return {
    providers: [{ name: 'bench', type: 'anthropic', base_url: upstream.url, auth_type: 'api_key', auth_value: BENCH_API_KEY }],
    settings: baseSettings(),
  };
}

/** nginx in front of the same upstream, unless --no-nginx or it is not installed. */
async function maybeNginx(dir, upstream) {
  if (opts['no-nginx']) return null;
  const nginx = await startNginx(dir, upstream.url);
  if (nginx) log(`nginx worker pid ${nginx.pid} at ${nginx.url}`);
  else log('nginx is not installed: no nginx reference row');
  return nginx;
}

/** bench/floor.mjs (bare node:http + undici) in front of the same upstream, with --floor. */
async function maybeFloor(dir, upstream) {
  if (!opts.floor) return null;
  const floor = await startFloor(dir, upstream.url);
  log(`floor (bare node:http + undici) pid ${floor.pid} at ${floor.url}`);
  return floor;
}

/** bench/floor-net.mjs (node:net only, no HTTP parser) in front of the same upstream, with --floor-net. */
async function maybeFloorNet(dir, upstream) {
  if (!opts['floor-net']) return null;
  const floorNet = await startFloor(dir, upstream.url, 'floor-net.mjs');
  log(`floor-net (node:net only) pid ${floorNet.pid} at ${floorNet.url}`);
  return floorNet;
}

/** bench/floor-hybrid.mjs in both modes (http-net, net-undici), with --floor-hybrid: {} without. */
async function maybeHybrids(dir, upstream) {
  if (!opts['floor-hybrid']) return {};
  const hybrids = {};
  for (const mode of ['http-net', 'net-undici']) {
    hybrids[mode] = await startFloor(dir, upstream.url, 'floor-hybrid.mjs', [mode]);
    log(`floor-hybrid ${mode} pid ${hybrids[mode].pid} at ${hybrids[mode].url}`);
  }
  return hybrids;
}

export async function apiKeyScenario(upstream, dir) {
  const config = apiKeyConfig(upstream);
  let result = {};
  if (PHASES.has('throughput') || PHASES.has('streams')) {
    const service = await startService(config, dir, 'api_key');
    log(`[api_key] service pid ${service.pid} at ${service.url}, upstream ${upstream.url}`);
    try {
      if (PHASES.has('throughput')) {
        const nginx = await maybeNginx(dir, upstream);
        const floor = await maybeFloor(dir, upstream);
        const floorNet = await maybeFloorNet(dir, upstream);
        const hybrids = await maybeHybrids(dir, upstream);
        try {
          result = await throughput({
            upstream,
            service,
            nginx,
            floor,
            floorNet,
            hybrids,
            directAuth: ['x-api-key', BENCH_API_KEY],
            serviceAuth: ['x-api-key', CLIENT_API_KEY],
            label: 'api_key',
          });
        } finally {
          await nginx?.stop();
          await floor?.stop();
          await floorNet?.stop();
          for (const h of Object.values(hybrids)) await h.stop();
        }
      }
      if (PHASES.has('streams')) result.concurrent_streams = await concurrentStreams({ upstream, service });
      result.service_lifetime_peak_rss_mb = round(statusMb(service.pid, 'VmHWM'), 1);
    } finally {
      await service.stop();
    }
    const logged = await countLines(service.logPath);
    result.log = { level: 'info', lines: logged.lines, request_lines: logged.requestLines };
  }
  if (PHASES.has('soak')) {
    // A service of its own, so what the soak sees is the soak's doing, not the streams' aftermath.
    const service = await startService(config, dir, 'soak');
    log(`[soak] service pid ${service.pid} at ${service.url}`);
    try {
      result.soak = await soak({ upstream, service });
    } finally {
      await service.stop();
    }
  }
  return result;
}

/** Logs an account in through the service's real admin API and the fake OAuth server. */
export async function login(serviceUrl, email) {
  const gen = await fetch(`${serviceUrl}/oauth/generate-url`);
  if (!gen.ok) throw new Error(`generate-url: ${gen.status} ${await gen.text()}`);
  const { login_url: loginUrl } = await gen.json();
  const approve = await fetch(loginUrl, { redirect: 'manual', headers: { 'x-fake-user': email } });
  if (approve.status !== 302) throw new Error(`fake authorize: ${approve.status} ${await approve.text()}`);
  const to = new URL(approve.headers.get('location'));
  const exchange = await fetch(`${serviceUrl}/oauth/exchange-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: `${to.searchParams.get('code')}#${to.searchParams.get('state')}` }),
  });
  const body = await exchange.json();
  if (!exchange.ok || body.status !== 'success') throw new Error(`exchange-code: ${exchange.status} ${JSON.stringify(body)}`);
  return body;
}

/** The API key scenario with Claude Code's body (~140 KB) instead of 2 KB: the cost of large bodies. */
export async function claudeCodeScenario(upstream, dir) {
  const template = join(dir, 'claude-code-body');
  const bodyBytes = writeClaudeCodeTemplate(template);
  const service = await startService(apiKeyConfig(upstream), dir, 'claude_code');
  log(`[claude_code] service pid ${service.pid} at ${service.url}, body ${bodyBytes} bytes`);
  const nginx = await maybeNginx(dir, upstream);
  const floor = await maybeFloor(dir, upstream);
  const floorNet = await maybeFloorNet(dir, upstream);
  const hybrids = await maybeHybrids(dir, upstream);
  try {
    const result = await throughput({
      upstream,
      service,
      nginx,
      floor,
      floorNet,
      hybrids,
      directAuth: ['x-api-key', BENCH_API_KEY],
      serviceAuth: ['x-api-key', CLIENT_API_KEY],
      label: 'claude_code',
      body: template,
    });
    result.body_bytes = bodyBytes;
    return result;
  } finally {
    await nginx?.stop();
    await floor?.stop();
    await floorNet?.stop();
    for (const h of Object.values(hybrids)) await h.stop();
    await service.stop();
  }
}

/**
 * The OAuth pool of two accounts in the file store; `store: 'redis'` keeps it in a real redis-server started here
 * (tokens sealed with an encryption key), as several instances would, to compare with the default.
 */
export async function oauthScenario(upstream, dir, { store = 'file' } = {}) {
  const redis = store === 'redis' ? await startRedis(dir) : null;
  const storeSettings = redis
    ? { enable_persistence: true, store: 'redis', redis_url: redis.url, encryption_key: randomBytes(32).toString('base64') }
    : { enable_persistence: true, store: 'file', file_path: join(dir, 'accounts.json') };
  const label = redis ? 'oauth_redis' : 'oauth';
  const config = {
    providers: [{ name: 'claude', type: 'anthropic', base_url: upstream.url, auth_type: 'auth_token', auth_value: 'oauth' }],
    settings: baseSettings({
      authorize_url: `${upstream.url}/oauth/authorize`,
      token_url: `${upstream.url}/v1/oauth/token`,
      redirect_uri: `${upstream.url}/oauth/code/callback`,
      strategy: 'session',
      ...storeSettings,
    }),
  };
  const service = await startService(config, dir, label);
  log(`[${label}] service pid ${service.pid} at ${service.url}${redis ? `, redis ${redis.url}` : ''}`);
  try {
    const emails = ['alice@bench.local', 'bob@bench.local'];
    for (const email of emails) await login(service.url, email);
    const tokens = await (await fetch(`${upstream.url}/bench/tokens`)).json();
    const result = await throughput({
      upstream,
      service,
      directAuth: ['authorization', `Bearer ${tokens[0]}`],
      directBeta: `${CLIENT_BETA},${OAUTH_BETA}`,
      serviceAuth: ['authorization', `Bearer ${'x'.repeat(tokens[0].length)}`],
      serviceBeta: CLIENT_BETA,
      label,
    });
    const status = await (await fetch(`${service.url}/oauth/status`)).json();
    result.accounts = status.tokens.map((t) => ({ email: t.account_email, usage_count: t.usage_count, status: t.status }));
    result.strategy = status.strategy;
    result.store = store;
    return result;
  } finally {
    await service.stop();
    await redis?.stop();
  }
}
