/** The error an Anthropic upstream answered with, read leniently: a missing or odd body gives empty strings. */
export interface UpstreamError {
  type: string;
  message: string;
}

export function parseUpstreamError(body: string | undefined): UpstreamError {
  if (!body) return { type: '', message: '' };
  try {
    const { error } = JSON.parse(body) as { error?: { type?: unknown; message?: unknown } };
    return {
      type: typeof error?.type === 'string' ? error.type : '',
      message: typeof error?.message === 'string' ? error.message : '',
    };
  } catch {
    return { type: '', message: '' };
  }
}

const ORG_NOT_ALLOWED = /not allowed for this organization/i;

/**
 * The 403 Anthropic gives when the account's organization may not use OAuth at all
 * ("OAuth authentication is currently not allowed for this organization."): a ban that new
 * tokens do not lift.
 */
export function isOrganizationBanned(status: number, error: UpstreamError): boolean {
  return status === 403 && ORG_NOT_ALLOWED.test(error.message);
}

/** A refused credential: every 401, and the 403 authentication_error a revoked token sometimes gets. */
export function isCredentialRefused(status: number, error: UpstreamError): boolean {
  return status === 401 || (status === 403 && error.type === 'authentication_error' && !isOrganizationBanned(status, error));
}
