/**
 * The request target rule (#10.4). The target is forwarded with the pool's credentials, so it
 * must not be able to name anything but the provider's `/v1/...` API: a `..` segment, in any
 * spelling a server on the way might decode (`%2e%2e`, `%2E.`, `%252e%252e`), a `%2f` or
 * backslash that a server might read as a separator, or an absolute-form target whose host
 * differs from Host, is refused before anything else looks at the request.
 */

/**
 * Segments of unreserved characters that do not start with a dot, and a query without `#`: no
 * decoding can turn them into anything else, so the per-segment checks have nothing to find.
 * Every request is judged, and nearly all look like this (`/v1/messages?beta=true`).
 */
const PLAIN_TARGET = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+(?:\?[^#\\\x00-\x1f\x7f]*)?$/;

/** Why a request target is refused on every route, or undefined when it is a plain origin-form path. */
export function targetProblem(target: string): string | undefined {
  if (PLAIN_TARGET.test(target)) return undefined;
  if (!target.startsWith('/')) {
    return 'The request target must be a path starting with "/" (origin-form); absolute-form and other targets are not accepted.';
  }
  if (target.includes('#')) return 'The request target must not contain a fragment ("#").';
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  if (path.includes('\\')) return 'The request path must not contain a backslash.';
  // Not valid in a request target, and a WHATWG parser trims it: `/v1/.. ` would resolve as `/v1/..`.
  if (path.includes(' ')) return 'The request path must not contain a space (send it as %20).';
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const problem = segmentProblem(segments[i]);
    if (problem) return `The request path segment "${segments[i]}" ${problem}.`;
  }
  return undefined;
}

/** Why a target is not forwarded upstream: any `targetProblem`, or a path outside `/v1/`. */
export function forwardingProblem(target: string): string | undefined {
  const problem = targetProblem(target);
  if (problem) return problem;
  // Compared as sent: find-my-way decodes before routing, so `/%761/...` reaches the /v1 route too.
  if (!target.startsWith('/v1/')) return 'Only paths under /v1/ are forwarded.';
  return undefined;
}

/**
 * What goes upstream for a target that passed `forwardingProblem`: the provider's base path
 * (no trailing slash) + the client's `/v1/...` path + its query string, bytes as sent.
 */
export function upstreamTarget(basePath: string, target: string): string {
  return basePath + target;
}

/** A target without its query string: queries may carry what a log must not (ids, tokens of other tools). */
export function pathOnly(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * A segment is judged by every decoding of it (a proxy or framework on the way may decode once
 * more than the next): none may be a dot segment (`.`/`..`, also with a `;param` tail, which some
 * servers strip), hold a separator, or a control character.
 */
function segmentProblem(segment: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(segment)) return 'has malformed percent-encoding';
  let text = segment;
  for (;;) {
    // Also with the C0 controls and spaces around it that a WHATWG parser trims from its input.
    const bare = text.split(';', 1)[0].replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
    if (bare === '.' || bare === '..') return 'is a dot segment';
    if (/[\\/]/.test(text)) return 'holds an encoded "/" or "\\"';
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(text)) return 'holds a control character';
    // Decoded byte by byte (as latin1): only ASCII results matter here, and a lenient decoder
    // on the way would leave a stray "%" as it is, as this does.
    const decoded = text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (decoded === text) return undefined;
    text = decoded;
  }
}
