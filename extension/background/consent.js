// Access requests from pages: ask the companion, open the consent window, and settle when the
// user decides there, closes the window (= deny), or the companion reports a decision taken
// elsewhere (its own web UI) or the request's expiry.
//
// What keeps a page from burying the user in windows:
// - one requestAccess per origin at a time (another call meanwhile fails with 409);
// - a consent window only for a page handling a user action (a click); without one, only a
//   remembered grant can answer (`user_gesture_required` otherwise);
// - after a refusal the companion makes the origin wait, longer each time (`cooldown`);
// - one consent window at a time overall: other requests queue and open one after another,
//   at most MAX_WAITING in all; a queued request whose page went away is dropped.
//
// Not paired, or the companion not running: with a click behind the request, the first-run
// guide (guide.js) opens instead of failing, and the request goes on once the user is done.
import { ALLOW_ONCE_SECS, SCOPES, api } from '../common/config.js';
import { Code, ExtensionError } from '../common/errors.js';
import { withCredential } from './companion.js';
import * as events from './events.js';
import { exchange, tokensForGrant } from './grants.js';
import * as guide from './guide.js';
import * as store from './store.js';

const MAX_WAITING = 5;
const pending = new Map();     // request id -> {origin, windowId, createdAt, resolve, reject}
const queue = [];              // request ids waiting for the window, oldest first
let shown = null;              // the request id whose window is open (or opening)
const asking = new Set();      // origins with a requestAccess in flight

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
  return { scopes, models, reason, mcps: validMcps(params.mcps, scopes) };
}

const MAX_MCPS = 10;                   // as the companion allows

function validServer(asked) {
  const keys = asked !== null && typeof asked === 'object' ? Object.keys(asked) : [];
  const value = keys.length === 1 ? asked[keys[0]] : undefined;
  if (typeof value !== 'string' || value.length > 2000) return null;
  if (keys[0] === 'name' && value.trim()) return { name: value };
  if (keys[0] === 'url' && /^https?:\/\/\S+$/.test(value)) return { url: value };
  return null;
}

// MCP servers a page asks for, each by its URL or by the name the companion registered it
// under: [{url: 'https://…'} | {name: '…'}], and only together with the `mcp` scope.
function validMcps(mcps, scopes) {
  if (mcps === undefined) return [];
  const checked = Array.isArray(mcps) && mcps.length <= MAX_MCPS && scopes.includes('mcp')
    ? mcps.map(validServer) : [null];
  if (checked.includes(null)) {
    throw new ExtensionError(Code.API_ERROR,
      `mcps must be a list of {url} or {name} (at most ${MAX_MCPS}), with the mcp scope`,
      { status: 400 });
  }
  return checked;
}

const NEEDS_SETUP = new Set([Code.NOT_PAIRED, Code.UNREACHABLE]);

function denied() {
  return new ExtensionError(Code.ACCESS_DENIED, 'the user denied access');
}

/** The whole requestAccess flow for `origin`; resolves what the page is told. */
export async function requestAccess(origin, params, { signal, userAction = false } = {}) {
  const checked = validRequest(params ?? {});
  if (asking.has(origin)) {
    throw new ExtensionError(Code.API_ERROR, `${origin} already has a request waiting for the user`,
      { status: 409 });
  }
  asking.add(origin);
  try {
    return await askOnce(origin, checked, { signal, userAction });
  } finally {
    asking.delete(origin);
  }
}

async function askOnce(origin, { scopes, models, reason, mcps }, { signal, userAction }) {
  if (userAction && pending.size >= MAX_WAITING) {
    throw new ExtensionError(Code.RATE_LIMITED,
      `${pending.size} sites are already waiting for the user's decision`);
  }
  const requested = { scopes, mcps };
  if (models) requested.models = models;
  const ask = () => withCredential('/bodhi/v1/apps/request-access', {
    method: 'POST', body: { origin, reason, requested, interactive: userAction },
  });
  let answer;
  try {
    answer = await ask();
  } catch (err) {
    // The user clicked on the page but Bodhi is not set up: guide them, then ask again.
    if (!userAction || !NEEDS_SETUP.has(err.code)) throw err;
    await guide.untilReady(origin, signal);
    answer = await ask();
  }
  if (answer.status === 'approved') {            // a remembered grant covers it: no question
    const entry = await tokensForGrant(origin, answer.grant_id);
    return { granted: true, scopes: entry.scopes, models: entry.models,
      expires_at: answer.expires_at ?? null };
  }
  await decision(answer.id, origin, signal);
  const entry = await exchange(origin, answer.id);
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

/** Waits for the user's decision on a draft: queued, then shown in its own window. */
async function decision(requestId, origin, signal) {
  const unsubscribe = events.subscribe((event) => onEvent(requestId, event));
  events.emitLocal('access_request.pending', { id: requestId, origin });
  try {
    await new Promise((resolve, reject) => {
      pending.set(requestId, { origin, windowId: null, createdAt: Date.now(), resolve, reject });
      queue.push(requestId);
      // The page went away (tab closed, navigated): drop the request, queued or shown.
      if (signal?.aborted) refuse(requestId);
      signal?.addEventListener('abort', () => refuse(requestId, { close: true }), { once: true });
      showNext();
    });
  } finally {
    unsubscribe();
  }
}

async function showNext() {
  if (shown !== null) return;
  const id = queue.shift();
  if (id === undefined) return;
  shown = id;
  let windowId = null;
  try {
    const url = api.runtime.getURL(`consent/consent.html?request=${encodeURIComponent(id)}`);
    windowId = (await api.windows.create({ url, type: 'popup', width: 440, height: 620 })).id;
  } catch (err) {
    console.error('bodhi: the consent window did not open', err);
  }
  const entry = pending.get(id);
  if (entry && windowId !== null) {
    entry.windowId = windowId;
    events.emitLocal('access_request.shown', { id, origin: entry.origin });
    return;
  }
  // Settled while its window was opening, or no window could be opened.
  if (windowId !== null) api.windows.remove(windowId).catch(() => {});
  shown = null;
  if (entry) refuse(id).then(showNext);
  else showNext();
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
  const queued = queue.indexOf(requestId);
  if (queued >= 0) queue.splice(queued, 1);
  if (close && entry.windowId !== null) api.windows.remove(entry.windowId).catch(() => {});
  if (status === 'approved') entry.resolve();
  else entry.reject(denied());
  events.emitLocal('access_request.settled', { id: requestId, status });
  // A window still opening is closed by showNext itself once it exists.
  if (shown === requestId && entry.windowId !== null) {
    shown = null;
    showNext();
  }
}

/**
 * The consent window's buttons: approve (once or remembered) with the scopes left ticked, the
 * models left ticked (null: any), the site's default model, and the MCP instances the user
 * bound to the servers asked for.
 */
export async function approve({ id, scopes, models = null, mcps = [], remember,
  defaultModel = null }) {
  const body = { scopes, models, mcps, remember: Boolean(remember) };
  if (!remember) body.expires_in = ALLOW_ONCE_SECS;
  // The site's default model (used when its requests name none), kept by the extension. Stored
  // before approving: the companion's event of the decision may settle the request, and so
  // answer the page, before the approve call returns.
  const origin = pending.get(id)?.origin;
  if (origin) {
    await store.setDefaultModel(origin, typeof defaultModel === 'string' ? defaultModel : null);
  }
  const result = await withCredential(
    `/bodhi/v1/apps/access-requests/${encodeURIComponent(id)}/approve`, { method: 'POST', body });
  settle(id, 'approved');
  return result;
}

export async function deny({ id }) {
  try {
    return await withCredential(`/bodhi/v1/apps/access-requests/${encodeURIComponent(id)}/deny`,
      { method: 'POST', body: {} });
  } finally {
    settle(id, 'denied');
  }
}

export function review({ id }) {
  return withCredential(`/bodhi/v1/apps/access-requests/${encodeURIComponent(id)}/review`);
}

export function list() {
  return [...pending.entries()].map(([id, e]) => ({ id, origin: e.origin, created_at: e.createdAt,
    window_id: e.windowId }));
}

/**
 * Denies on the companion first, then tells the page: the page's next requestAccess must find
 * the refusal recorded (and the cool-down running), never a race it could win.
 */
async function refuse(id, options) {
  if (!pending.has(id)) return;
  await withCredential(`/bodhi/v1/apps/access-requests/${encodeURIComponent(id)}/deny`,
    { method: 'POST', body: {} }).catch(() => {});
  settle(id, 'denied', options);
}

/** Closing the consent window is a denial. */
api.windows.onRemoved.addListener((windowId) => {
  for (const [id, entry] of pending) {
    if (entry.windowId === windowId) refuse(id);
  }
});
