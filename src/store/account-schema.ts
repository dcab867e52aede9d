import { z } from 'zod';
import type { AccountRecord } from '../oauth/account.js';

const epochMs = z.number().int().nonnegative();

/** Shape of an AccountRecord as persisted by the file and keyring stores. */
export const accountRecordSchema = z.object({
  email: z.string().min(1),
  access_token: z.string(),
  refresh_token: z.string().nullable(),
  expires_at: epochMs,
  scopes: z.array(z.string()),
  account_uuid: z.string().nullable(),
  organization_uuid: z.string().nullable(),
  organization_name: z.string().nullable(),
  created_at: epochMs,
  usage_count: z.number().int().nonnegative(),
  last_used: epochMs.nullable(),
  last_refresh_at: epochMs.nullable(),
  status: z.enum(['active', 'refreshing', 'reauth_required', 'error']),
  last_error: z.string().nullable(),
}) satisfies z.ZodType<AccountRecord>;

/** One line per problem, e.g. `accounts.1.expires_at: Invalid input: expected number, received string`. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
