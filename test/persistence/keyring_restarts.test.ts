import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { configWith } from '../support/harness.js';
import { oauthProvider, oauthSettingsFor, startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';
import { clientEnv, secretToolSearch, startSecretService, type SecretService } from '../support/secret-service.js';
import { loginsSurviveKill9, restartRig, rotatedRefreshTokenSurvivesKill9, usageSurvivesGracefulRestart } from './restarts.js';

const PASSWORD = 'keyring-test-password';

describe('logins survive restarts and crashes: the real keyring (gnome-keyring over D-Bus)', () => {
  let fakes: OAuthFakes;
  let keyring: SecretService | undefined;

  beforeAll(async () => {
    fakes = await startOAuthFakes();
  });
  afterAll(() => fakes.close());
  afterEach(async () => {
    await keyring?.stop();
    keyring = undefined;
  });

  async function rigOnFreshKeyring(serviceName = 'ccb-restart-test') {
    const home = mkdtempSync(join(tmpdir(), 'ccb-keyring-home-'));
    keyring = await startSecretService({ home, password: PASSWORD, unlock: true });
    const env = clientEnv(keyring.env);
    return { home, env, rig: restartRig(fakes, { store: 'keyring', service_name: serviceName }, () => env) };
  }

  it('two accounts logged in, kill -9, restart: both serve with no new login', async () => {
    const { rig } = await rigOnFreshKeyring();
    await loginsSurviveKill9(rig);
    const { items } = await secretToolSearch(keyring!.env, { service: 'ccb-restart-test' });
    expect(items.map((i) => i.label).sort()).toEqual(['ccb-restart-test/one@example.com', 'ccb-restart-test/two@example.com']);
  });

  it('a rotated refresh token, kill -9 right after: the account still refreshes and serves', async () => {
    const { rig } = await rigOnFreshKeyring();
    await rotatedRefreshTokenSurvivesKill9(rig, fakes);
  });

  it('usage counts survive a graceful restart', async () => {
    const { rig } = await rigOnFreshKeyring();
    await usageSurvivesGracefulRestart(rig);
  });

  it('a second serve on the same keyring service exits 1 naming it and the other pid; kill -9 frees it', async () => {
    const { rig, env } = await rigOnFreshKeyring('ccb-one-writer');
    const first = await rig.start();
    const configPath = join(mkdtempSync(join(tmpdir(), 'ccb-one-writer-')), 'providers.yaml');
    writeFileSync(
      configPath,
      yaml.dump(configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth, { store: 'keyring', service_name: 'ccb-one-writer' }) })),
    );
    const refused = await runCli(['serve', '--config', configPath, '--port', '0'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`keyring service "ccb-one-writer" is in use by another claude-code-balancer (pid ${first.child.pid},`);
    expect(refused.stderr).toContain(`lock ${join(env.XDG_RUNTIME_DIR!, 'claude-code-balancer', 'ccb-one-writer.keyring.lock')}`);
    expect(refused.stderr).toContain('settings.oauth.store: redis');
    await rig.kill9(first);
    const second = await rig.start();
    await second.stop();
  });

  it('a locked keyring at startup stops the service and wipes nothing; unlocked, the accounts are intact', async () => {
    const { home, rig } = await rigOnFreshKeyring('ccb-locked-test');
    const first = await rig.start();
    await rig.login(first, 'kept1@example.com');
    await rig.login(first, 'kept2@example.com');
    await rig.kill9(first);
    await keyring!.stop();

    keyring = await startSecretService({ home, password: PASSWORD, unlock: false });
    const configPath = join(mkdtempSync(join(tmpdir(), 'ccb-locked-')), 'providers.yaml');
    writeFileSync(
      configPath,
      yaml.dump(configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth, { store: 'auto', service_name: 'ccb-locked-test' }) })),
    );
    const refused = await runCli(['serve', '--config', configPath, '--port', '0'], { env: clientEnv(keyring.env) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/keyring is locked/i);
    expect(refused.stderr).not.toMatch(/listening/);
    await keyring.stop();

    keyring = await startSecretService({ home, password: PASSWORD, unlock: true });
    const unlockedRig = restartRig(fakes, { store: 'keyring', service_name: 'ccb-locked-test' }, () => clientEnv(keyring!.env));
    const again = await unlockedRig.start();
    try {
      const status = await unlockedRig.status(again);
      expect(status.tokens.map((t) => t.account_email).sort()).toEqual(['kept1@example.com', 'kept2@example.com']);
      expect((await unlockedRig.ask(again)).status).toBe(200);
    } finally {
      await again.stop();
    }
  });
});
