import type { AccountRecord } from '../../src/store/account-record.js';

/** A complete AccountRecord for tests; `overrides` replaces any field. */
export function account(email: string, overrides: Partial<AccountRecord> = {}): AccountRecord {
  return {
    email,
    access_token: `sk-ant-oat01-${email}`,
    refresh_token: `sk-ant-ort01-${email}`,
    expires_at: 1_900_000_000_000,
    scopes: ['user:inference', 'user:profile'],
    account_uuid: `uuid-${email}`,
    organization_uuid: null,
    organization_name: null,
    created_at: 1_800_000_000_000,
    usage_count: 0,
    last_used: null,
    last_refresh_at: null,
    verdict: null,
    utilization_5h: null,
    utilization_7d: null,
    ...overrides,
  };
}
