import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from '../../src/config/load.js';
import { runCli } from '../support/cli.js';

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccb-config-'));
  const file = join(dir, 'providers.yaml');
  writeFileSync(file, text);
  return file;
}

const provider = (extra = '') => `
  - name: "main"
    type: "anthropic"
    base_url: "https://api.anthropic.com"
    auth_type: "api_key"
    auth_value: "sk-test"${extra}`;

const cases: Array<{ name: string; yaml: string; expect: RegExp[] }> = [
  {
    name: 'a YAML syntax error, with line and column',
    yaml: `providers:\n  - name: "a"\n    base_url: [unclosed\n`,
    expect: [/providers\.yaml:\d+:\d+: YAML syntax error/],
  },
  {
    name: 'an unknown alert event and a webhook that is not an http(s) URL',
    yaml: `providers:${provider()}\nsettings:\n  notify:\n    webhook_url: "ftp://hooks.example"\n    events: ["needs_login", "limited"]\n`,
    expect: [
      /providers\.yaml:9:5: settings\.notify\.webhook_url: must be an http\(s\) URL/,
      /providers\.yaml:10:\d+: settings\.notify\.events\[1\]: must be one of needs_login, banned, rate_limited, recovered, pool_exhausted, refresh_failed/,
    ],
  },
  {
    name: 'an unknown key',
    yaml: `providers:${provider('\n    colour: "blue"')}\nsettings:\n  prot: 9090\n`,
    expect: [/providers\.yaml:7:5: providers\[0\]\.colour: unknown key colour\n/, /providers\.yaml:9:3: settings\.prot: unknown key prot \(did you mean port\?\)/],
  },
  {
    name: 'a wrong type',
    yaml: `providers:${provider()}\nsettings:\n  port: "ninety"\n  failure_cooldown: -1\n`,
    expect: [/settings\.port: .*number/i, /settings\.failure_cooldown: /],
  },
  {
    name: 'a missing field',
    yaml: `providers:\n  - name: "main"\n    auth_type: "api_key"\n    auth_value: "x"\n`,
    expect: [/providers\[0\]\.base_url: required/],
  },
  {
    name: 'a bad base_url',
    yaml: `providers:\n  - name: "a"\n    base_url: "https://api.anthropic.com"\n    auth_type: "api_key"\n    auth_value: "x"\n  - name: "b"\n    base_url: "not a url"\n    auth_type: "api_key"\n    auth_value: "x"\n`,
    expect: [/providers\[1\]\.base_url: must be an http\(s\) URL/],
  },
  {
    name: 'a duplicate provider name',
    yaml: `providers:${provider()}${provider()}\n`,
    expect: [/providers\[1\]\.name: duplicate provider name "main" \(also providers\[0\]\)/],
  },
  {
    name: 'a provider name that cannot go in a header',
    yaml: `providers:\n  - name: "Clåude"\n    base_url: "https://api.anthropic.com"\n    auth_type: "api_key"\n    auth_value: "x"\n`,
    expect: [/providers\[0\]\.name: must be printable ASCII/],
  },
  {
    name: 'bad client keys and allowed origins',
    yaml: `providers:${provider()}\nsettings:\n  client_keys:\n    - {name: "a", key: "short"}\n    - {name: "a b", key: "a-long-enough-key-0123456789"}\n    - {name: "a", key: "another-long-key-0123456789"}\n  allowed_origins: ["https://app.example/path", "null"]\n`,
    expect: [
      /settings\.client_keys\[0\]\.key: must be at least 24 characters/,
      /settings\.client_keys\[1\]\.name: must be 1-64 letters/,
      /settings\.client_keys\[2\]\.name: duplicate key name "a" \(also client_keys\[0\]\)/,
      /settings\.allowed_origins\[0\]: must be an origin/,
      /settings\.allowed_origins\[1\]: must be an origin/,
    ],
  },
  {
    name: 'no enabled provider',
    yaml: `providers:${provider('\n    enabled: false')}\n`,
    expect: [/providers: no enabled provider/],
  },
  {
    name: 'an unset environment variable',
    yaml: `providers:\n  - name: "main"\n    base_url: "https://api.anthropic.com"\n    auth_type: "api_key"\n    auth_value: "\${CCB_SURELY_UNSET_VAR}"\n`,
    expect: [/providers\[0\]\.auth_value: environment variable CCB_SURELY_UNSET_VAR is not set/],
  },
  {
    name: 'a misspelled key: did you mean, and not also "required" for the key it meant',
    yaml: `providers:\n  - name: "main"\n    base_url: "https://api.anthropic.com"\n    auth_tpye: "api_key"\n    auth_value: "x"\n`,
    expect: [/^[^\n]*providers\.yaml:4:5: providers\[0\]\.auth_tpye: unknown key auth_tpye \(did you mean auth_type\?\)\nThe service did not start/],
  },
  {
    name: 'a missing enum key says required',
    yaml: `providers:\n  - name: "main"\n    base_url: "https://api.anthropic.com"\n    auth_value: "x"\n`,
    expect: [/providers\.yaml:2:5: providers\[0\]\.auth_type: required\n/],
  },
  {
    name: 'yes and on for a boolean',
    yaml: `providers:${provider('\n    enabled: yes')}\nsettings:\n  oauth:\n    enable_auto_refresh: on\n`,
    expect: [/providers\[0\]\.enabled: "yes": use true or false\n/, /settings\.oauth\.enable_auto_refresh: "on": use true or false\n/],
  },
  {
    name: 'a base_url ending in /v1',
    yaml: `providers:\n  - name: "main"\n    base_url: "https://api.anthropic.com/v1/"\n    auth_type: "api_key"\n    auth_value: "x"\n`,
    expect: [/providers\.yaml:3:5: providers\[0\]\.base_url: leave off \/v1: requests already go to \/v1\/messages/],
  },
  {
    name: 'problems in file order',
    yaml: `providers:\n  - name: "main"\n    base_url: "nope"\n    auth_type: "api_key"\n    auth_value: "x"\nsettings:\n  port: "ninety"\n  failure_cooldown: -1\n  oauth:\n    strategy: "fastest"\n`,
    expect: [/:3:5: providers\[0\]\.base_url: [^\n]*\n[^\n]*:7:3: settings\.port: [^\n]*\n[^\n]*:8:3: settings\.failure_cooldown: [^\n]*\n[^\n]*:10:5: settings\.oauth\.strategy: /],
  },
];

describe('a bad config file stops startup with exit code 2 and says what and where', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const file = configFile(c.yaml);
      const result = await runCli(['serve', '--config', file, '--port', '0']);
      expect(result.code).toBe(2);
      for (const pattern of c.expect) expect(result.stderr).toMatch(pattern);
      for (const line of result.stderr.trim().split('\n').slice(0, -1)) expect(line).toContain(file);
      expect(result.stderr).not.toMatch(/listening/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('a missing file', async () => {
    const result = await runCli(['serve', '--config', '/nonexistent/providers.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/nonexistent/providers.yaml: cannot read the config file (ENOENT)');
  });
});

describe('config values', () => {
  it('fills in the defaults', () => {
    const config = parseConfig(`providers:${provider()}\n`, 'p.yaml', {});
    expect(config.settings).toMatchObject({
      host: '127.0.0.1',
      port: 9090,
      log_level: 'info',
      failure_cooldown: 60,
      max_body_bytes: 32 * 1024 * 1024,
      client_keys: [],
      allowed_origins: [],
      oauth: { enable_auto_refresh: true, enable_persistence: true, service_name: 'claude-code-balancer', refresh_lead_seconds: 300, strategy: 'session' },
    });
    expect(config.providers[0].enabled).toBe(true);
  });

  it('accepts log levels in any case, WARNING included', () => {
    for (const [given, level] of [['DEBUG', 'debug'], ['Info', 'info'], ['WARNING', 'warn'], ['error', 'error']]) {
      const config = parseConfig(`providers:${provider()}\nsettings:\n  log_level: ${given}\n`, 'p.yaml', {});
      expect(config.settings.log_level).toBe(level);
    }
  });

  it('substitutes ${ENV_VAR} in secrets', () => {
    const config = parseConfig(
      `providers:\n  - name: "m"\n    base_url: "https://x.example"\n    auth_type: "api_key"\n    auth_value: "\${MY_KEY}"\n`,
      'p.yaml',
      { MY_KEY: 'sk-from-env' },
    );
    expect(config.providers[0].auth_value).toBe('sk-from-env');
  });

  it('oauth needs auth_type auth_token', () => {
    expect(() =>
      parseConfig(`providers:\n  - name: "m"\n    base_url: "https://x.example"\n    auth_type: "api_key"\n    auth_value: "oauth"\n`, 'p.yaml', {}),
    ).toThrow(ConfigError);
  });
});

describe('config as people write it', () => {
  it('an empty section (everything in it commented out) means its defaults', () => {
    const config = parseConfig(`providers:${provider()}\nsettings:\n  oauth:\n  #  strategy: fill\n  timeouts:\n`, 'p.yaml', {});
    expect(config.settings.oauth.strategy).toBe('session');
    expect(config.settings.timeouts.connect_ms).toBe(10_000);
    expect(parseConfig(`providers:${provider()}\nsettings:\n# port: 1234\n`, 'p.yaml', {}).settings.port).toBe(9090);
  });

  it('numbers and booleans written as strings, from ${ENV} too', () => {
    const config = parseConfig(
      `providers:${provider('\n    enabled: "TRUE"')}\nsettings:\n  port: "\${PORT}"\n  failure_cooldown: " 2.5 "\n  timeouts:\n    connect_ms: "\${CONNECT}"\n  oauth:\n    enable_auto_refresh: "\${REFRESH}"\n`,
      'p.yaml',
      { PORT: '9191', CONNECT: '500', REFRESH: 'false' },
    );
    expect(config.settings.port).toBe(9191);
    expect(config.settings.failure_cooldown).toBe(2.5);
    expect(config.settings.timeouts.connect_ms).toBe(500);
    expect(config.settings.oauth.enable_auto_refresh).toBe(false);
    expect(config.providers[0].enabled).toBe(true);
    // A string that stays a string where one is expected.
    expect(parseConfig(`providers:${provider()}\nsettings:\n  admin_token: "1234567890123456"\n`, 'p.yaml', {}).settings.admin_token).toBe('1234567890123456');
  });
});
