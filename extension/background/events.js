// The companion's event stream (WebSocket /bodhi/v1/events), open while anyone listens. The
// socket authenticates in-band with the extension credential (browsers cannot set headers on
// WebSockets). Listeners get {type, data}; `emitLocal` adds the extension's own events, and
// `socket.closed` says the socket closed (it reconnects with backoff).
import * as store from './store.js';

const RETRY_MS = [1_000, 2_000, 5_000, 10_000];

const listeners = new Set();
let socket = null;
let attempt = 0;
let retryTimer = null;

function deliver(event) {
  for (const listener of [...listeners]) {
    try { listener(event); } catch (err) { console.error('bodhi: event listener failed', err); }
  }
}

async function open() {
  if (socket || listeners.size === 0) return;
  const token = await store.credential();
  if (!token || socket || listeners.size === 0) return;
  const url = `${(await store.serverUrl()).replace(/^http/, 'ws')}/bodhi/v1/events`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
  ws.onmessage = (message) => {
    attempt = 0;
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    // A grant revoked anywhere (web UI, CLI) drops the tokens the extension held for it.
    if (event.type === 'grant.revoked' && event.data?.id) {
      store.dropTokens({ grantId: event.data.id }).catch(() => {});
    }
    deliver(event);
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    deliver({ type: 'socket.closed', data: {} });  // the companion may have stopped
    if (listeners.size === 0) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
  };
}

/** Calls `listener(event)` for each event until the returned function is called. */
export function subscribe(listener) {
  listeners.add(listener);
  open();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && socket) { socket.close(1000); socket = null; }
  };
}

/** Reconnect with the current credential and URL (after pairing or a settings change). */
export function restart() {
  if (socket) { const old = socket; socket = null; old.close(1000); }
  attempt = 0;
  open();
}

export function emitLocal(type, data = {}) {
  deliver({ type, data });
}
