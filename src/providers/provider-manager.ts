import type { ProviderConfig } from '../config/schema.js';
import {
  SingleCredentialSource,
  apiKeyCredential,
  bearerCredential,
  passthroughCredential,
  type CredentialSource,
} from './credentials.js';

export interface Provider {
  readonly name: string;
  readonly config: ProviderConfig;
  /** scheme://host:port of base_url. */
  readonly origin: string;
  /** Path prefix of base_url without a trailing slash ('' for most). */
  readonly basePath: string;
  readonly credentials: CredentialSource;
  /** Epoch ms until which the provider is skipped after a failure; 0 when healthy. */
  cooldownUntil: number;
  lastError: string | null;
}

/** Builds the credential source of an oauth provider (the account pool); injected so providers stay independent of oauth. */
export type OAuthSourceFactory = (provider: ProviderConfig) => CredentialSource;

export interface ProviderHealth {
  name: string;
  healthy: boolean;
  cooldown_until: string | null;
  last_error: string | null;
}

export function credentialSourceFor(config: ProviderConfig, oauthSource: OAuthSourceFactory): CredentialSource {
  if (config.auth_value === 'oauth') return oauthSource(config);
  if (config.auth_value === 'passthrough') return new SingleCredentialSource(passthroughCredential);
  return new SingleCredentialSource(
    config.auth_type === 'api_key' ? apiKeyCredential(config.auth_value) : bearerCredential(config.auth_value),
  );
}

/** The providers of providers.yaml in priority order, with their health and failure cooldown. */
export class ProviderManager {
  private providers: Provider[] = [];

  constructor(
    configs: ProviderConfig[],
    private cooldownSeconds: number,
    private readonly oauthSource: OAuthSourceFactory,
    private readonly now: () => number = Date.now,
  ) {
    this.update(configs, cooldownSeconds);
  }

  /** Replaces the provider list (on reload), keeping the health of providers that keep their name and URL. */
  update(configs: ProviderConfig[], cooldownSeconds: number): void {
    const previous = new Map(this.providers.map((p) => [p.name, p]));
    this.cooldownSeconds = cooldownSeconds;
    this.providers = configs
      .filter((c) => c.enabled)
      .map((config) => {
        const url = new URL(config.base_url);
        const old = previous.get(config.name);
        const sameUpstream = old && old.config.base_url === config.base_url;
        return {
          name: config.name,
          config,
          origin: url.origin,
          basePath: url.pathname.replace(/\/+$/, ''),
          credentials: credentialSourceFor(config, this.oauthSource),
          cooldownUntil: sameUpstream ? old.cooldownUntil : 0,
          lastError: sameUpstream ? old.lastError : null,
        };
      });
  }

  all(): readonly Provider[] {
    return this.providers;
  }

  /** Providers to try for a request, in order: those not cooling down, or all of them if every one is. */
  candidates(): Provider[] {
    const now = this.now();
    const ready = this.providers.filter((p) => p.cooldownUntil <= now);
    return ready.length > 0 ? ready : [...this.providers];
  }

  /** Benches a provider after a transient failure, unless it is the only one left to serve. */
  markFailed(provider: Provider, reason: string): void {
    provider.lastError = reason;
    const now = this.now();
    const othersReady = this.providers.some((p) => p !== provider && p.cooldownUntil <= now);
    if (othersReady && this.cooldownSeconds > 0) provider.cooldownUntil = now + this.cooldownSeconds * 1000;
  }

  markHealthy(provider: Provider): void {
    if (provider.cooldownUntil !== 0 || provider.lastError !== null) {
      provider.cooldownUntil = 0;
      provider.lastError = null;
    }
  }

  health(): ProviderHealth[] {
    const now = this.now();
    return this.providers.map((p) => ({
      name: p.name,
      healthy: p.cooldownUntil <= now,
      cooldown_until: p.cooldownUntil > now ? new Date(p.cooldownUntil).toISOString() : null,
      last_error: p.lastError,
    }));
  }
}
