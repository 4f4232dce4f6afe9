// App tokens per origin: obtain them after consent, refresh them before they expire, and use
// them for the page's inference calls. A token the companion refuses (revoked or expired
// grant) is dropped, and the page gets `not_granted`.
//
// Refresh tokens are single use, and the companion treats a spent one presented again as
// stolen (it ends every refresh token of the grant). So an origin has at most one refresh in
// flight: calls that find the token due while one runs wait for it and share its result, and
// a call holding a token that was refreshed meanwhile takes the new one instead of refreshing.
import { Code, ExtensionError } from '../common/errors.js';
import { companionFetch, withCredential } from './companion.js';
import * as store from './store.js';

const REFRESH_MARGIN_MS = 60_000;           // at most; a quarter of the token's life if shorter
const refreshing = new Map();               // origin -> the Promise of its one running refresh

const notGranted = (origin) => new ExtensionError(Code.NOT_GRANTED,
  `${origin} has no grant; call requestAccess() first`);

function entryFrom(token) {
  return {
    access_token: token.access_token,
    refresh_token: token.refresh_token,
    expires_at: token.expires_at,                 // epoch seconds
    expires_in: token.expires_in,                 // the token's whole life, seconds
    scopes: String(token.scope ?? '').split(' ').filter(Boolean),
    grant_id: token.grant_id,
    models: token.models ?? null,                 // null: every model the user has
  };
}

function due(entry) {
  const margin = Math.min(REFRESH_MARGIN_MS, (entry.expires_in ?? Infinity) * 250);
  return entry.expires_at * 1000 - margin < Date.now();
}

/** Exchanges an approved access request for the origin's tokens. */
export async function exchange(origin, requestId) {
  const token = await withCredential('/bodhi/v1/apps/token', {
    method: 'POST', tokenCall: true,
    body: { grant_type: 'access_request', request_id: requestId },
  });
  const entry = entryFrom(token);
  await store.saveToken(origin, entry);
  return entry;
}

/** Tokens for a remembered grant the companion answered with: the ones held, or new ones. */
export async function tokensForGrant(origin, grantId) {
  const held = await store.tokenFor(origin);
  if (held?.grant_id === grantId) return held;
  const token = await withCredential('/bodhi/v1/apps/token', {
    method: 'POST', tokenCall: true, body: { grant_type: 'grant', grant_id: grantId },
  });
  const entry = entryFrom(token);
  await store.saveToken(origin, entry);
  return entry;
}

/** A fresh entry for `origin`, replacing `stale`; one refresh per origin at a time. */
function refresh(origin, stale) {
  let running = refreshing.get(origin);
  if (!running) {
    running = refreshOnce(origin, stale).finally(() => refreshing.delete(origin));
    refreshing.set(origin, running);
  }
  return running;
}

async function refreshOnce(origin, stale) {
  const entry = await store.tokenFor(origin);
  if (!entry) throw notGranted(origin);
  if (entry.refresh_token !== stale.refresh_token && !due(entry)) return entry;
  try {
    const token = await withCredential('/bodhi/v1/apps/token', {
      method: 'POST', tokenCall: true,
      body: { grant_type: 'refresh_token', refresh_token: entry.refresh_token },
    });
    const fresh = entryFrom(token);
    await store.saveToken(origin, fresh);
    return fresh;
  } catch (err) {
    if (err.code === Code.NOT_GRANTED || [400, 403].includes(err.status)) {
      const expired = String(err.body?.error?.code ?? '').includes('expired');
      await store.dropTokens({ origin, reason: expired ? 'expired' : 'revoked' });
      throw notGranted(origin);
    }
    throw err;
  }
}

/** The origin's current token entry, refreshed when close to expiry. */
export async function currentToken(origin) {
  const entry = await store.tokenFor(origin);
  if (!entry) throw notGranted(origin);
  return due(entry) ? refresh(origin, entry) : entry;
}

/** A companion call with the origin's app token; one refresh-and-retry on 401. */
export async function appFetch(origin, path, options = {}) {
  let entry = await currentToken(origin);
  let response = await companionFetch(path, { ...options, bearer: entry.access_token });
  if (response.status !== 401) return response;
  entry = await refresh(origin, entry);
  response = await companionFetch(path, { ...options, bearer: entry.access_token });
  if (response.status === 401) {
    await store.dropTokens({ origin });
    throw notGranted(origin);
  }
  return response;
}

/** Revokes the grant behind the origin's tokens; the page's next call gets not_granted. */
export async function revokeOrigin(origin) {
  const entry = await store.tokenFor(origin);
  if (!entry) return { revoked: false };
  await revokeGrant(entry.grant_id);
  return { revoked: true };
}

export async function revokeGrant(grantId) {
  await store.dropTokens({ grantId });
  return withCredential(`/bodhi/v1/apps/grants/${encodeURIComponent(grantId)}/revoke`,
    { method: 'POST', body: {} });
}
