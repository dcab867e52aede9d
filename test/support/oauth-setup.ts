import { startFakeAnthropic, type FakeAnthropic } from '../fakes/fake-anthropic.js';
import { startFakeOAuth, type FakeOAuth } from '../fakes/fake-oauth.js';
import { configWith } from './harness.js';

export interface OAuthFakes {
  oauth: FakeOAuth;
  upstream: FakeAnthropic;
  close(): Promise<void>;
}

/** A fake OAuth server and a fake Messages API that accepts exactly the tokens it issued. */
export async function startOAuthFakes(): Promise<OAuthFakes> {
  const oauth = await startFakeOAuth();
  const upstream = await startFakeAnthropic({ auth: { mode: 'oauth', liveTokens: oauth.liveTokens } });
  return {
    oauth,
    upstream,
    close: async () => {
      await upstream.close();
      await oauth.close();
    },
  };
}

/** settings.oauth pointing at the fake OAuth server. */
export function oauthSettingsFor(oauth: FakeOAuth, extra: Record<string, unknown> = {}) {
  return {
    token_url: oauth.tokenUrl,
    authorize_url: oauth.authorizeUrl,
    redirect_uri: oauth.redirectUri,
    profile_url: oauth.profileUrl,
    client_id: oauth.clientId,
    ...extra,
  };
}

export function oauthProvider(baseUrl: string, name = 'Claude Code Official') {
  return { name, type: 'anthropic', base_url: baseUrl, auth_type: 'auth_token', auth_value: 'oauth' };
}

/** providers.yaml for a pool that signs in at these fakes and serves from their Messages API. */
export function oauthPoolConfig(fakes: OAuthFakes) {
  return configWith([oauthProvider(fakes.upstream.url)], { oauth: oauthSettingsFor(fakes.oauth) });
}
