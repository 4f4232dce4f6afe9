// Access requests from pages: create the request on the companion, open the consent window,
// and settle when the user decides there, closes the window (= deny), or the companion reports
// a decision taken elsewhere (its own web UI) or the request's expiry.
import { ALLOW_ONCE_SECS, SCOPES, api } from '../common/config.js';
import { Code, ExtensionError } from '../common/errors.js';
import { withCredential } from './companion.js';
import * as events from './events.js';
import { exchange } from './grants.js';

const pending = new Map();     // request id -> {origin, windowId, createdAt, resolve, reject}
// Origins with a requestAccess in flight: one consent window per origin at a time, so a page
// cannot bury the user in windows (or hope for a misclick among many).
const asking = new Set();

function validRequest(params) {
  const scopes = params.scopes ?? ['chat'];
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => SCOPES.includes(s))) {
    throw new ExtensionError(Code.API_ERROR, `scopes must be a list drawn from ${SCOPES.join(', ')}`,
      { status: 400 });
  }
  const models = params.models;
  if (models !== undefined && !(Array.isArray(models) && models.every((m) => typeof m === 'string'))) {
    throw new ExtensionError(Code.API_ERROR, 'models must be a list of model names', { status: 400 });
  }
  const reason = params.reason === undefined ? undefined : String(params.reason).slice(0, 500);
  return { scopes, models, reason };
}

function denied() {
  return new ExtensionError(Code.ACCESS_DENIED, 'the user denied access');
}

/** The whole requestAccess flow for `origin`; resolves what the page is told. */
export async function requestAccess(origin, params, signal) {
  const checked = validRequest(params ?? {});
  if (asking.has(origin)) {
    throw new ExtensionError(Code.API_ERROR, `${origin} already has a request waiting for the user`,
      { status: 409 });
  }
  asking.add(origin);
  try {
    return await askOnce(origin, checked, signal);
  } finally {
    asking.delete(origin);
  }
}

async function askOnce(origin, { scopes, models, reason }, signal) {
  const requested = { scopes, mcps: [] };
  if (models) requested.models = models;
  const created = await withCredential('/bodhi/v1/apps/request-access', {
    method: 'POST', body: { origin, reason, requested },
  });
  if (created.status !== 'approved') await ask(created.id, origin, signal);
  const entry = await exchange(origin, created.id);
  return { granted: true, scopes: entry.scopes, models: entry.models,
    expires_at: await grantExpiry(entry.grant_id) };
}

async function grantExpiry(grantId) {
  try {
    const grants = await withCredential('/bodhi/v1/apps/grants?page_size=100');
    return grants.data.find((g) => g.id === grantId)?.expires_at ?? null;
  } catch {
    return null;
  }
}

async function ask(requestId, origin, signal) {
  const url = api.runtime.getURL(`consent/consent.html?request=${encodeURIComponent(requestId)}`);
  const win = await api.windows.create({ url, type: 'popup', width: 440, height: 620 });
  const unsubscribe = events.subscribe((event) => onEvent(requestId, event));
  events.emitLocal('access_request.pending', { id: requestId, origin });
  try {
    await new Promise((resolve, reject) => {
      pending.set(requestId, { origin, windowId: win.id, createdAt: Date.now(), resolve, reject });
      signal?.addEventListener('abort', () => {
        denyOnCompanion(requestId);
        settle(requestId, 'denied', { close: true });
      }, { once: true });
    });
  } finally {
    unsubscribe();
  }
}

function onEvent(requestId, event) {
  if (event.type !== 'access_request.updated' || event.data?.id !== requestId) return;
  const status = event.data.status;
  if (status === 'approved' || status === 'denied' || status === 'expired') {
    settle(requestId, status, { close: true });
  }
}

function settle(requestId, status, { close = false } = {}) {
  const entry = pending.get(requestId);
  if (!entry) return;
  pending.delete(requestId);
  if (close) api.windows.remove(entry.windowId).catch(() => {});
  if (status === 'approved') entry.resolve();
  else entry.reject(denied());
  events.emitLocal('access_request.settled', { id: requestId, status });
}

/** The consent window's buttons: approve (once or remembered) with the scopes left ticked. */
export async function approve({ id, scopes, models = null, remember }) {
  const body = { scopes, models, mcps: [], remember: Boolean(remember) };
  if (!remember) body.expires_in = ALLOW_ONCE_SECS;
  const result = await withCredential(
    `/bodhi/v1/access-requests/${encodeURIComponent(id)}/approve`, { method: 'POST', body });
  settle(id, 'approved');
  return result;
}

export async function deny({ id }) {
  try {
    return await withCredential(`/bodhi/v1/access-requests/${encodeURIComponent(id)}/deny`,
      { method: 'POST', body: {} });
  } finally {
    settle(id, 'denied');
  }
}

export function review({ id }) {
  return withCredential(`/bodhi/v1/access-requests/${encodeURIComponent(id)}/review`);
}

export function list() {
  return [...pending.entries()].map(([id, e]) => ({ id, origin: e.origin, created_at: e.createdAt,
    window_id: e.windowId }));
}

function denyOnCompanion(id) {
  withCredential(`/bodhi/v1/access-requests/${encodeURIComponent(id)}/deny`,
    { method: 'POST', body: {} }).catch(() => {});
}

/** Closing the consent window is a denial. */
api.windows.onRemoved.addListener((windowId) => {
  for (const [id, entry] of pending) {
    if (entry.windowId !== windowId) continue;
    denyOnCompanion(id);
    settle(id, 'denied');
  }
});
