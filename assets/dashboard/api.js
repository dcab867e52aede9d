// Calls to the service's dashboard API: same origin, the page's CSRF token on every call.
let csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

export function setCsrf(token) {
  csrf = token;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message ?? body.error?.message ?? (typeof body.error === 'string' ? body.error : undefined) ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function call(method, path, body) {
  const headers = { 'x-csrf-token': csrf, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  let json = {};
  try {
    json = await res.json();
  } catch {
    // An empty or non-JSON answer: the status says enough.
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

export const oauthPath = (path) => `/dashboard/api/oauth${path}`;
