import { z } from 'zod';

/**
 * The persisted account: only what must survive a restart. Whatever the running pool judges
 * from moment to moment (refreshing, cooling down, rate limited) lives in its runtime account
 * (src/oauth/account.ts) and is never written here.
 */
export interface AccountRecord {
  /** Key of the account: the email as the user gave it or as Anthropic returned it. Compared case-insensitively. */
  email: string;
  access_token: string;
  /** Single-use and rotating. null for tokens that cannot be refreshed. */
  refresh_token: string | null;
  /** Epoch milliseconds. */
  expires_at: number;
  scopes: string[];
  account_uuid: string | null;
  organization_uuid: string | null;
  organization_name: string | null;
  /** Epoch milliseconds. */
  created_at: number;
  /** Client requests this account served (a 401, a refresh and the retry count once). */
  usage_count: number;
  /** Epoch milliseconds, or null when never used. */
  last_used: number | null;
  /** Epoch milliseconds of the last successful refresh. */
  last_refresh_at: number | null;
  /** A lasting judgement that only a new login lifts; null while the account is in good standing. */
  verdict: AccountVerdict | null;
  /** The last subscription utilization Anthropic reported, per window; null once its window has reset. */
  utilization_5h: UtilizationSnapshot | null;
  utilization_7d: UtilizationSnapshot | null;
}

export type VerdictState = 'needs_login' | 'banned';

export interface AccountVerdict {
  state: VerdictState;
  reason: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface UtilizationSnapshot {
  /** 0..1 (1 is the limit), as the unified rate-limit headers give it. */
  utilization: number;
  /** Epoch ms when the window resets, when known. */
  resets_at: number | null;
}

export function accountKey(email: string): string {
  return email.trim().toLowerCase();
}

/** The snapshot while its window lasts; null once the window has reset. */
export function liveSnapshot(snapshot: UtilizationSnapshot | null, now: number): UtilizationSnapshot | null {
  return snapshot && (snapshot.resets_at === null || snapshot.resets_at > now) ? snapshot : null;
}

const epochMs = z.number().int().nonnegative();
const snapshot = z.object({ utilization: z.number().nonnegative(), resets_at: epochMs.nullable() });

/** Shape of an AccountRecord as persisted by the file and keyring stores. */
export const accountRecordSchema = z
  .object({
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
    verdict: z.object({ state: z.enum(['needs_login', 'banned']), reason: z.string(), at: epochMs }).nullable().optional(),
    utilization_5h: snapshot.nullable().optional(),
    utilization_7d: snapshot.nullable().optional(),
    // Records written before the record/runtime split carried a status instead of a verdict.
    status: z.enum(['active', 'refreshing', 'reauth_required', 'error']).optional(),
    last_error: z.string().nullable().optional(),
  })
  .transform(({ status, last_error, verdict, utilization_5h, utilization_7d, ...rest }): AccountRecord => ({
    ...rest,
    verdict: verdict ?? legacyVerdict(status, last_error ?? null, rest.last_refresh_at ?? rest.created_at),
    utilization_5h: utilization_5h ?? null,
    utilization_7d: utilization_7d ?? null,
  }));

function legacyVerdict(status: string | undefined, lastError: string | null, at: number): AccountVerdict | null {
  if (status === 'reauth_required') return { state: 'needs_login', reason: lastError ?? 'needs a new login', at };
  if (status === 'error') return { state: 'banned', reason: lastError ?? 'taken out of rotation', at };
  return null;
}

/** One line per problem, e.g. `accounts.1.expires_at: Invalid input: expected number, received string`. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
