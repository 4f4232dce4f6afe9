// The one error type that crosses message boundaries: a stable code, a message, and for
// api_error the companion's HTTP status and body. Pages see it as window.BodhiError.
export const Code = Object.freeze({
  ACCESS_DENIED: 'access_denied',     // the user denied, or closed the consent window
  NOT_GRANTED: 'not_granted',         // no grant for this origin (never asked, revoked, expired)
  UNREACHABLE: 'unreachable',         // the companion does not answer
  NOT_PAIRED: 'not_paired',           // the extension holds no credential for the companion
  API_ERROR: 'api_error',             // the companion refused: see status and body
  COOLDOWN: 'cooldown',               // refused recently: ask again after retry_after seconds
  RATE_LIMITED: 'rate_limited',       // asked too often: ask again after retry_after seconds
  USER_GESTURE_REQUIRED: 'user_gesture_required', // asking the user needs a click on the page
  SETUP_CANCELLED: 'setup_cancelled', // the user closed the first-run guide before finishing
  TIMEOUT: 'timeout',
  ABORTED: 'aborted',
  NATIVE_HOST_MISSING: 'native_host_missing',   // UI only: `bodhi install-native-host`
  BAD_REQUEST: 'bad_request',         // malformed message between extension parts
});

export class ExtensionError extends Error {
  constructor(code, message, { status, body, retry_after: retryAfter } = {}) {
    super(message || code);
    this.code = code;
    this.status = status;
    this.body = body;
    this.retry_after = retryAfter;
  }

  toJSON() {
    const out = { code: this.code, message: this.message };
    if (this.status !== undefined) out.status = this.status;
    if (this.body !== undefined) out.body = this.body;
    if (this.retry_after !== undefined) out.retry_after = this.retry_after;
    return out;
  }
}

/** Any thrown value as the plain {code, message, status?, body?} that messages carry. */
export function serializeError(err) {
  if (err instanceof ExtensionError) return err.toJSON();
  if (err?.name === 'AbortError') return { code: Code.ABORTED, message: 'aborted' };
  return { code: Code.API_ERROR, message: String(err?.message ?? err) };
}

export function reviveError(plain) {
  return new ExtensionError(plain?.code ?? Code.API_ERROR, plain?.message,
    { status: plain?.status, body: plain?.body, retry_after: plain?.retry_after });
}
