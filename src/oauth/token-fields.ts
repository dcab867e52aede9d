import type { AccountRecord } from '../store/account-record.js';
import type { TokenResponse } from './token-client.js';

type TokenFields = Pick<
  AccountRecord,
  'access_token' | 'expires_at' | 'scopes' | 'account_uuid' | 'organization_uuid' | 'organization_name'
>;

/** The record fields a token response sets; what it leaves out is kept from `base`. */
export function recordFromTokens(
  response: TokenResponse,
  now: number,
  base: Pick<AccountRecord, 'scopes' | 'account_uuid' | 'organization_uuid' | 'organization_name'>,
): TokenFields {
  return {
    access_token: response.access_token,
    expires_at: now + response.expires_in * 1000,
    scopes: response.scope ? response.scope.split(/\s+/).filter(Boolean) : base.scopes,
    account_uuid: response.account?.uuid ?? base.account_uuid,
    organization_uuid: response.organization?.uuid ?? base.organization_uuid,
    organization_name: response.organization?.name ?? base.organization_name,
  };
}
