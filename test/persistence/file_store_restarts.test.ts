import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startOAuthFakes, type OAuthFakes } from '../support/oauth-setup.js';
import { loginsSurviveKill9, restartRig, rotatedRefreshTokenSurvivesKill9, usageSurvivesGracefulRestart, utilizationSurvivesRestartUntilReset } from './restarts.js';

describe('logins survive restarts and crashes: file store', () => {
  let fakes: OAuthFakes;
  beforeAll(async () => {
    fakes = await startOAuthFakes();
  });
  afterAll(() => fakes.close());

  const rig = () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-file-store-')), 'accounts.json');
    return restartRig(fakes, { store: 'file', file_path: file }, () => process.env);
  };

  it('two accounts logged in, kill -9, restart: both serve with no new login', () => loginsSurviveKill9(rig()));
  it('a rotated refresh token, kill -9 right after: the account still refreshes and serves', () =>
    rotatedRefreshTokenSurvivesKill9(rig(), fakes));
  it('usage counts survive a graceful restart', () => usageSurvivesGracefulRestart(rig()));
  it('5h/7d utilization and reset times survive a restart; a window that reset meanwhile is dropped', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccb-file-store-')), 'accounts.json');
    return utilizationSurvivesRestartUntilReset(restartRig(fakes, { store: 'file', file_path: file }, () => process.env), fakes, file);
  });
});
