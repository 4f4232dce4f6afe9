// App tokens per origin: obtain them after consent, refresh them before they expire, and use
// them for the page's inference calls. A token the companion refuses (revoked or expired
// grant) is dropped, and the page gets `not_granted`.
import { Code, ExtensionError } from '../common/errors.js';
import { companionFetch, withCredential } from './companion.js';
import * as store from './store.js';

const REFRESH_MARGIN_MS = 60_000;

const notGranted = (origin) => new ExtensionError(Code.NOT_GRANTED,
  `${origin} has no grant; call requestAccess() first`);

function entryFrom(token) {
  return {
    access_token: token.access_token,
    refresh_token: token.refresh_token,
    expires_at: token.expires_at,                 // epoch seconds
    scopes: String(token.scope ?? '').split(' ').filter(Boolean),
    grant_id: token.grant_id,
    models: token.models ?? null,                 // null: every model the user has
  };
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

async function refresh(origin, entry) {
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
      await store.dropTokens({ origin });
      throw notGranted(origin);
    }
    throw err;
  }
}

/** The origin's current token entry, refreshed when close to expiry. */
export async function currentToken(origin) {
  const entry = await store.tokenFor(origin);
  if (!entry) throw notGranted(origin);
  if (entry.expires_at * 1000 - REFRESH_MARGIN_MS < Date.now()) return refresh(origin, entry);
  return entry;
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
