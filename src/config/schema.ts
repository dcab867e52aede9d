import { z } from 'zod';
import { parseEncryptionKey } from './encryption-key.js';

/** Defaults for Anthropic's OAuth endpoints (see shared/docs/anthropic.md); all overridable in settings.oauth. */
export const ANTHROPIC_OAUTH_DEFAULTS = {
  client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
  authorize_url: 'https://claude.com/cai/oauth/authorize',
  token_url: 'https://platform.claude.com/v1/oauth/token',
  redirect_uri: 'https://platform.claude.com/oauth/code/callback',
  scopes: [
    'org:create_api_key',
    'user:profile',
    'user:inference',
    'user:sessions:claude_code',
    'user:mcp_servers',
    'user:file_upload',
  ],
  profile_url: 'https://api.anthropic.com/api/oauth/profile',
  oauth_beta: 'oauth-2025-04-20',
} as const;

/** An http(s) forward proxy, credentials allowed (http://user:pass@host:3128). */
const proxyUrl = z.url({
  protocol: /^https?$/,
  error: 'must be an http(s) proxy URL such as http://user:pass@host:3128',
});

const httpUrl = z.url({
  protocol: /^https?$/,
  error: (issue) => (issue.input === undefined ? 'required' : 'must be an http(s) URL'),
});

export const providerSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    // It is sent in the x-balancer-provider response header, where only visible ASCII may go.
    .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII (it is sent in the x-balancer-provider header)'),
  type: z.literal('anthropic').default('anthropic'),
  base_url: httpUrl.refine((url) => !URL.parse(url)?.pathname.match(/\/v1\/?$/), 'leave off /v1: requests already go to /v1/messages'),
  auth_type: z.enum(['api_key', 'auth_token']),
  /** A secret, "oauth" (auth_token only: the account pool) or "passthrough" (the client's own credential). */
  auth_value: z.string().min(1, 'must not be empty'),
  enabled: z.boolean().default(true),
  /** Overrides settings.proxy for this provider; "none" connects directly. */
  proxy: z.union([z.literal('none'), proxyUrl]).optional(),
});

const logLevel = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['debug', 'info', 'warning', 'warn', 'error']))
  .transform((l) => (l === 'warning' ? 'warn' : l) as 'debug' | 'info' | 'warn' | 'error');

const positiveInt = z.number().int().positive();

/** A client key's name: it appears in logs, the keys list and /admin/keys/:name. */
export const CLIENT_KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const clientKeyName = z
  .string()
  .regex(CLIENT_KEY_NAME, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const clientKeySchema = z.strictObject({
  name: clientKeyName,
  key: z.string().min(24, 'must be at least 24 characters').regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces'),
});

/** A web origin as browsers send it: scheme://host[:port], compared lowercased. */
const webOrigin = z
  .string()
  .transform((s) => s.trim().toLowerCase().replace(/\/$/, ''))
  .refine((s) => {
    try {
      const url = new URL(s);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === s;
    } catch {
      return false;
    }
  }, 'must be an origin: http(s)://host[:port], without a path');

export const oauthSettingsSchema = z.strictObject({
  enable_auto_refresh: z.boolean().default(true),
  enable_persistence: z.boolean().default(true),
  service_name: z.string().min(1).default('claude-code-balancer'),
  /** Where accounts are persisted when enable_persistence is true. */
  store: z.enum(['auto', 'keyring', 'file', 'redis']).default('auto'),
  /** File store path; default $XDG_DATA_HOME/claude-code-balancer/accounts.json. */
  file_path: z.string().min(1).optional(),
  /** store: redis (several instances on one pool). */
  redis_url: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  redis_prefix: z.string().min(1).default('ccb:'),
  /** AES-256-GCM key for the tokens in Redis: 32 bytes, base64 or hex. */
  encryption_key: z
    .string()
    .refine((k) => parseEncryptionKey(k) !== null, 'must be 32 bytes, as base64 or hex (e.g. `openssl rand -base64 32`)')
    .optional(),
  allow_plaintext_redis: z.boolean().default(false),
  /** How long a refresh lock outlives an instance that died holding it. */
  redis_lock_ttl_ms: positiveInt.min(500).default(15_000),
  refresh_lead_seconds: z.number().int().nonnegative().default(300),
  refresh_retry_seconds: positiveInt.default(3600),
  /** How requests are spread over the accounts (README: spreading gives headroom, staying on one looks like one person's use). */
  strategy: z.enum(['session', 'round_robin', 'fill']).default('session'),
  /** fill: move on to the next account once the current one's 5-hour utilization passes this. */
  fill_threshold: z.number().min(0).max(1).default(0.95),
  client_id: z.string().min(1).default(ANTHROPIC_OAUTH_DEFAULTS.client_id),
  authorize_url: httpUrl.default(ANTHROPIC_OAUTH_DEFAULTS.authorize_url),
  token_url: httpUrl.default(ANTHROPIC_OAUTH_DEFAULTS.token_url),
  redirect_uri: httpUrl.default(ANTHROPIC_OAUTH_DEFAULTS.redirect_uri),
  scopes: z
    .union([z.string().transform((s) => s.split(/\s+/).filter(Boolean)), z.array(z.string().min(1))])
    .default([...ANTHROPIC_OAUTH_DEFAULTS.scopes]),
  profile_url: httpUrl.default(ANTHROPIC_OAUTH_DEFAULTS.profile_url),
  oauth_beta: z.string().min(1).default(ANTHROPIC_OAUTH_DEFAULTS.oauth_beta),
  /** Timeout of calls to token_url. */
  token_timeout_ms: positiveInt.default(30_000),
});

/** The pool events settings.notify can send (issue 13). */
export const NOTIFY_EVENTS = ['needs_login', 'banned', 'rate_limited', 'recovered', 'pool_exhausted', 'refresh_failed'] as const;

/** Alerts: a JSON POST per pool event to a webhook. */
export const notifySettingsSchema = z.strictObject({
  webhook_url: httpUrl.optional(),
  /** Only these events; all of NOTIFY_EVENTS when absent. */
  events: z.array(z.enum(NOTIFY_EVENTS, { error: `must be one of ${NOTIFY_EVENTS.join(', ')}` })).optional(),
});

export const settingsSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(9090),
  log_level: logLevel.default('info'),
  failure_cooldown: z.number().nonnegative().default(60),
  timeouts: z
    .strictObject({
      connect_ms: positiveInt.default(10_000),
      headers_ms: positiveInt.default(600_000),
      idle_ms: positiveInt.default(300_000),
      /** A request whose headers and body have not all arrived by then gets 408 and is closed. */
      request_ms: positiveInt.default(60_000),
    })
    .prefault({}),
  max_body_bytes: positiveInt.default(32 * 1024 * 1024),
  /** Request body bytes held at once, all requests together; past it new requests get 529. */
  max_inflight_body_bytes: positiveInt.default(256 * 1024 * 1024),
  /** Client connections at once (kept below the open-file limit); past it new ones are refused. */
  max_connections: positiveInt.default(4096),
  /** When set, /oauth/* and /admin/* require it as a bearer token; required for a non-loopback host. */
  admin_token: z.string().min(16, 'must be at least 16 characters').optional(),
  /** When any key exists (here or created with `keys add`), /v1/* needs one. */
  client_keys: z.array(clientKeySchema).default([]),
  /** Web origins whose pages may call /v1 (with CORS headers); none by default. */
  allowed_origins: z.array(webOrigin).default([]),
  /** Outbound proxy for upstream and token-endpoint calls; else HTTPS_PROXY/HTTP_PROXY/NO_PROXY. */
  proxy: proxyUrl.optional(),
  oauth: oauthSettingsSchema.prefault({}),
  notify: notifySettingsSchema.prefault({}),
});

export const PASSTHROUGH_WITH_KEYS =
  '"passthrough" cannot be used with client keys: the credential a client sends is then its balancer key, which never goes upstream';

export const configSchema = z
  .strictObject({
    providers: z.array(providerSchema).min(1, 'must list at least one provider'),
    settings: settingsSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.providers.forEach((p, i) => {
      const prev = seen.get(p.name);
      if (prev !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', i, 'name'],
          message: `duplicate provider name "${p.name}" (also providers[${prev}])`,
        });
      } else seen.set(p.name, i);
      if (p.auth_value === 'oauth' && p.auth_type !== 'auth_token') {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', i, 'auth_value'],
          message: '"oauth" needs auth_type: "auth_token"',
        });
      }
    });
    const keyNames = new Map<string, number>();
    cfg.settings.client_keys.forEach((k, i) => {
      const prev = keyNames.get(k.name);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['settings', 'client_keys', i, 'name'], message: `duplicate key name "${k.name}" (also client_keys[${prev}])` });
      } else keyNames.set(k.name, i);
    });
    if (cfg.settings.client_keys.length > 0) {
      cfg.providers.forEach((p, i) => {
        if (p.enabled && p.auth_value === 'passthrough') ctx.addIssue({ code: 'custom', path: ['providers', i, 'auth_value'], message: PASSTHROUGH_WITH_KEYS });
      });
    }
    const oauth = cfg.settings.oauth;
    if (oauth.store === 'redis' && oauth.enable_persistence) {
      if (!oauth.redis_url) {
        ctx.addIssue({ code: 'custom', path: ['settings', 'oauth', 'redis_url'], message: 'required with store: redis' });
      }
      if (!oauth.encryption_key && !oauth.allow_plaintext_redis) {
        ctx.addIssue({
          code: 'custom',
          path: ['settings', 'oauth', 'encryption_key'],
          message:
            'required with store: redis, so that tokens are encrypted in Redis (32 bytes, base64 or hex: `openssl rand -base64 32`); ' +
            'or set allow_plaintext_redis: true to store them readable by anyone who can read the Redis',
        });
      }
    }
    if (!cfg.providers.some((p) => p.enabled)) {
      ctx.addIssue({ code: 'custom', path: ['providers'], message: 'no enabled provider' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type Settings = z.infer<typeof settingsSchema>;
export type OAuthSettings = z.infer<typeof oauthSettingsSchema>;
export type NotifySettings = z.infer<typeof notifySettingsSchema>;
