// Live updates: one WebSocket per tab to /bodhi/v1/events, shared by every page that listens.
// The upgrade carries the session cookie from our own origin, which the companion accepts as
// the socket's credential (routes/events.py); events are {type, data} and a page hears only its
// user's events and the server's. The socket opens with the first listener, closes with the
// last, and reconnects with a growing pause (1 s to 30 s) when the companion goes away.
// `document.body.dataset.events` says "open" once the server's hello arrived (tests wait on it).
import { useEffect, useRef } from './lib.js';

const listeners = new Set();
let socket = null;
let pause = 1000;
let timer = null;

function deliver(message) {
  for (const listener of [...listeners]) {
    if (listener.types.includes(message.type) || listener.types.includes('*')) {
      listener.handler(message);
    }
  }
}

function connect() {
  clearTimeout(timer);
  timer = null;
  const url = new URL('/bodhi/v1/events', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  socket = ws;
  ws.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message?.type === 'hello') {
      pause = 1000;
      document.body.dataset.events = 'open';
    }
    deliver(message);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    document.body.dataset.events = 'closed';
    if (listeners.size > 0) {
      timer = setTimeout(connect, pause);
      pause = Math.min(pause * 2, 30000);
    }
  };
}

/** Calls `handler({type, data})` for each event whose type is in `types` ('*' for all). */
export function subscribe(types, handler) {
  const listener = { types, handler };
  listeners.add(listener);
  if (!socket && !timer) connect();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      clearTimeout(timer);
      timer = null;
      const ws = socket;
      socket = null;
      ws?.close();
      delete document.body.dataset.events;
    }
  };
}

/** subscribe() for a component's lifetime; the latest `handler` is always the one called. */
export function useEvents(types, handler) {
  const latest = useRef(handler);
  latest.current = handler;
  const key = types.join(' ');
  useEffect(() => subscribe(types, (message) => latest.current(message)), [key]);
}
