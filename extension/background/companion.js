// Every HTTP call to the companion goes through here: the base URL, the bearer, a timeout for
// the response headers, and one mapping of failures onto error codes.
import { Code, ExtensionError } from '../common/errors.js';
import * as store from './store.js';

export const CONTROL_TIMEOUT_MS = 30_000;
export const INFERENCE_HEADERS_TIMEOUT_MS = 10 * 60_000;   // a cold model load comes first

/**
 * The raw Response. `timeout` bounds the wait for headers only, not a streamed body; `headers`
 * adds to (or replaces) the defaults.
 */
export async function companionFetch(path, {
  method = 'GET', body, bearer, signal, timeout = CONTROL_TIMEOUT_MS, headers: extra = {},
} = {}) {
  const base = await store.serverUrl();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; controller.abort(); }, timeout);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  Object.assign(headers, extra);
  try {
    return await fetch(base + path, {
      method, headers, signal: controller.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (timedOut) throw new ExtensionError(Code.TIMEOUT, `${path}: no answer from ${base}`);
    if (signal?.aborted) throw new ExtensionError(Code.ABORTED, 'aborted');
    throw new ExtensionError(Code.UNREACHABLE, `the companion at ${base} does not answer`);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

// Companion refusals that pages get under their own code rather than as api_error.
const OWN_CODES = {
  access_request_cooldown: Code.COOLDOWN,
  access_request_rate_limited: Code.RATE_LIMITED,
  access_request_needs_user_action: Code.USER_GESTURE_REQUIRED,
};

export async function apiError(response) {
  const text = await response.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  const message = body?.error?.message ?? `the companion answered HTTP ${response.status}`;
  const companionCode = body?.error?.code;
  const code = Object.hasOwn(OWN_CODES, companionCode ?? '') ? OWN_CODES[companionCode]
    : Code.API_ERROR;
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  return new ExtensionError(code, message, { status: response.status, body,
    retry_after: Number.isFinite(retryAfter) ? retryAfter : undefined });
}

export async function companionJson(path, options = {}) {
  const response = await companionFetch(path, options);
  if (!response.ok) throw await apiError(response);
  return response.json();
}

/**
 * A JSON call with the extension credential. A 401 means the credential was revoked, except on
 * the token endpoint, where it means the grant behind a refresh token is gone (`tokenCall`).
 */
export async function withCredential(path, { tokenCall = false, ...options } = {}) {
  const bearer = await store.credential();
  if (!bearer) throw new ExtensionError(Code.NOT_PAIRED, 'the extension is not paired');
  const response = await companionFetch(path, { ...options, bearer });
  if (response.status === 401 && tokenCall) {
    const body = await response.json().catch(() => undefined);   // says revoked or expired
    throw new ExtensionError(Code.NOT_GRANTED, 'the grant was revoked or has expired', { body });
  }
  if (response.status === 401) {
    await store.forgetPairing();
    throw new ExtensionError(Code.NOT_PAIRED, 'the companion no longer knows this extension');
  }
  if (!response.ok) throw await apiError(response);
  return response.json();
}

export async function serverInfo() {
  return companionJson('/bodhi/v1/info', { timeout: 5_000 });
}
