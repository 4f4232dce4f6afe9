// Page events, behind window.bodhi's statechange, grantchange and modelschange. A frame that
// listens holds one 'bodhi-events' Port; its origin is the port sender's (the frame's own,
// set by the browser). Whenever something may have changed (the companion's events socket,
// the stored tokens), each port gets a snapshot of what its own origin may know; the page
// compares it with the previous one and fires an event per difference. A snapshot says
// nothing about any other origin. See docs/extension-protocol.md, "Page events".
import { api } from '../common/config.js';
import { withCredential } from './companion.js';
import * as events from './events.js';
import { senderOrigin } from './page_api.js';
import { serverState } from './state.js';
import * as store from './store.js';

// Companion (and local) events after which a snapshot may differ.
const TRIGGERS = new Set(['hello', 'socket.closed', 'server.state', 'grant.created',
  'grant.revoked', 'models.changed', 'extension.paired', 'extension.unpaired']);
const STORED = ['appTokens', 'credential', 'serverUrl'];
const SETTLE_MS = 100;                     // one snapshot for a burst of changes

const ports = new Map();                   // Port -> origin
let unsubscribe = null;
let timer = null;
let sending = Promise.resolve();

function onStorage(changes, area) {
  if (area === 'local' && STORED.some((key) => key in changes)) schedule();
}

function start() {
  unsubscribe = events.subscribe((event) => { if (TRIGGERS.has(event.type)) schedule(); });
  api.storage.onChanged.addListener(onStorage);
}

function stop() {
  for (const timer of expiries.values()) clearTimeout(timer);
  expiries.clear();
  unsubscribe?.();
  unsubscribe = null;
  api.storage.onChanged.removeListener(onStorage);
  clearTimeout(timer);
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(() => send([...ports.keys()]), SETTLE_MS);
}

/** Serves one listening frame until its port closes. */
export function servePageEvents(port) {
  const origin = senderOrigin(port.sender);
  if (!origin) { port.disconnect(); return; }
  ports.set(port, origin);
  port.onDisconnect.addListener(() => {
    ports.delete(port);
    if (ports.size === 0) stop();
  });
  if (!unsubscribe) start();
  send([port]);                            // the page's baseline
}

// Snapshots go out one round at a time, so a page never sees an older one after a newer one.
function send(targets) {
  sending = sending.then(() => sendRound(targets)).catch((err) => {
    console.error('bodhi: page events failed', err);
  });
}

// A grant that ends at a set time (allow once) ends without any event from the companion: at
// that moment its tokens are dropped as expired, so its pages hear `expired` on time.
const expiries = new Map();                // grant id -> timer (null: it never expires)

async function watchExpiry(origins, tokens) {
  const held = origins.map((o) => tokens[o]).filter((e) => e && !expiries.has(e.grant_id));
  if (!held.length) return;
  const listing = await withCredential('/bodhi/v1/apps/grants?page_size=100').catch(() => null);
  for (const grant of listing?.data ?? []) {
    if (!held.some((e) => e.grant_id === grant.id)) continue;
    if (!grant.expires_at) { expiries.set(grant.id, null); continue; }   // until revoked
    const ms = Math.min(Math.max(grant.expires_at * 1000 - Date.now(), 0), 2 ** 31 - 1);
    expiries.set(grant.id, setTimeout(() => {
      expiries.delete(grant.id);
      store.dropTokens({ grantId: grant.id, reason: 'expired' }).catch(() => {});
    }, ms));
  }
}

async function sendRound(targets) {
  if (!targets.length) return;
  const [{ status: state }, tokens] = await Promise.all([serverState(), store.tokens()]);
  if (state === 'ready') await watchExpiry([...new Set(ports.values())], tokens);
  let everyModel = null;                   // fetched once a round, only if a grant needs it
  const allModels = () => (everyModel ??= withCredential('/v1/models')
    .then((listing) => (listing.data ?? []).map((m) => m.id)).catch(() => null));
  for (const port of targets) {
    const origin = ports.get(port);
    if (!origin) continue;
    const snapshot = await snapshotFor(origin, tokens[origin], state, allModels);
    try { port.postMessage(snapshot); } catch { ports.delete(port); }
  }
}

/**
 * {type: 'snapshot', state, grant, models}: `grant` is 'granted', or why the origin holds none
 * ('revoked', 'expired', or 'none' when it never had one here); `models` is the granted list,
 * null where unknown (no grant, companion not ready).
 */
async function snapshotFor(origin, entry, state, allModels) {
  const grant = entry ? 'granted' : (store.endingOf(origin) ?? 'none');
  let models = null;
  if (entry && state === 'ready') {
    models = Array.isArray(entry.models) ? entry.models : await allModels();
  }
  return { type: 'snapshot', state, grant, models };
}
