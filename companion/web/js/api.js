// Calls to the companion's API with this browser's session cookie. The cookie is SameSite=Strict
// and the companion refuses a state-changing request whose Origin or Sec-Fetch-Site is not its
// own: fetch from this page sends both as "ours" (same-origin), so nothing extra is needed, and
// no token ever lives in the page. A 401 on any call means the session is gone: the app is told
// (see onSessionExpired) and sends the user to sign-in, keeping the page they were on.

export class ApiError extends Error {
  constructor(status, message, code = null, param = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.param = param;
  }

  static async from(response) {
    let error = null;
    try {
      error = (await response.json())?.error ?? null;
    } catch {
      // not JSON: fall back to the status line
    }
    const message = (typeof error === 'string' ? error : error?.message)
      || `${response.status} ${response.statusText || 'error'}`;
    return new ApiError(response.status, message, error?.code ?? null, error?.param ?? null);
  }
}

let expired = () => {};
const PROVIDER_KEY_REFUSED = 'provider_auth_error';

/** Called (once per expiry) when a call answers 401. */
export function onSessionExpired(handler) {
  expired = handler;
}

/**
 * fetch() for the API. `body` is sent as JSON; `raw` returns the Response (for streams).
 * `headers` adds to (or replaces) the defaults. Throws ApiError for any status outside 2xx.
 */
export async function api(path, { method = 'GET', body, signal, raw = false,
  headers: extra } = {}) {
  const headers = { Accept: raw ? 'text/event-stream' : 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, signal, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const error = await ApiError.from(response);
    // A remote provider that refused its own key is a 401 too, but our session is fine.
    if (response.status === 401 && error.code !== PROVIDER_KEY_REFUSED) expired();
    throw error;
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

/** Every item of a paginated Bodhi list ({data, total, page, page_size}). */
export async function allPages(path, { pageSize = 100, limit = 20 } = {}) {
  const items = [];
  for (let page = 1; page <= limit; page += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const reply = await api(`${path}${sep}page=${page}&page_size=${pageSize}`);
    items.push(...reply.data);
    if (items.length >= reply.total || reply.data.length === 0) break;
  }
  return items;
}
