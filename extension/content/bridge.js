// The bridge between the page's window.bodhi (MAIN world) and the background.
//
// Runs in the content script's isolated world. Every page request becomes one runtime Port to
// the background (name 'bodhi-page'); the background learns the page's origin from the port's
// sender (in a frame: the frame's own), never from the message. Aborting a request disconnects
// its port, which aborts the background's fetch. A page that listens to events gets one more
// port, 'bodhi-events', for the frame's lifetime. See docs/extension-protocol.md.
(() => {
  'use strict';
  const api = globalThis.browser ?? globalThis.chrome;
  const TO_CONTENT = 'bodhi:page->content';
  const TO_PAGE = 'bodhi:content->page';
  const PAGE_ACTIONS = new Set(['serverState', 'requestAccess', 'chat', 'models.list',
    'embeddings.create', 'getToken', 'revoke', 'mcp.list', 'mcp.call', 'mcp.send',
    'mcp.close', 'languageModel.availability', 'languageModel.model',
    'languageModel.countTokens']);
  const ORIGIN = window.location.origin;
  const ports = new Map();                 // request id -> Port

  const toPage = (message) => window.postMessage({ channel: TO_PAGE, ...message }, ORIGIN);

  function start(id, action, params) {
    if (!PAGE_ACTIONS.has(action)) {
      toPage({ id, type: 'error', error: { code: 'api_error', message: `unknown action ${action}` } });
      return;
    }
    let port;
    try {
      port = api.runtime.connect({ name: 'bodhi-page' });
    } catch (err) {                        // the extension was reloaded or removed
      toPage({ id, type: 'error', error: { code: 'unreachable', message: String(err) } });
      return;
    }
    ports.set(id, port);
    let finished = false;
    port.onMessage.addListener((message) => {
      if (['result', 'error', 'end'].includes(message.type)) {
        finished = true;
        ports.delete(id);
        port.disconnect();
      }
      toPage({ ...message, id });
    });
    port.onDisconnect.addListener(() => {
      ports.delete(id);
      if (!finished) {
        toPage({ id, type: 'error',
          error: { code: 'unreachable', message: 'the extension stopped answering' } });
      }
    });
    // Whether the page is handling a user action right now (a click, a key). Read here, in
    // the isolated world, from the browser's own state: page script cannot fake it, and a
    // synthetic event does not set it. Without one, requestAccess may only be answered from a
    // remembered grant; it never opens a consent window.
    const userAction = action === 'requestAccess' && navigator.userActivation?.isActive === true;
    port.postMessage({ id, action, params, userAction });
  }

  function abort(id) {
    const port = ports.get(id);
    if (!port) return;
    ports.delete(id);
    port.disconnect();                     // the background aborts the companion request
  }

  // The frame's one events port, opened when the page first listens ('subscribe'). It closes
  // when the background stops (a service worker is stopped when idle); it is opened again,
  // and the snapshot that comes first then tells the page what changed meanwhile.
  const EVENTS_RETRY_MS = [500, 1_000, 2_000, 5_000, 10_000];
  let events = null;
  let eventsTries = 0;

  function listen() {
    if (events) return;
    try {
      events = api.runtime.connect({ name: 'bodhi-events' });
    } catch {                              // the extension was reloaded or removed
      return;
    }
    events.onMessage.addListener((message) => {
      eventsTries = 0;
      if (message?.type === 'snapshot') toPage({ ...message, id: 'events' });
    });
    events.onDisconnect.addListener(() => {
      events = null;
      if (!api.runtime?.id) return;        // the extension is gone: nothing to listen to
      const wait = EVENTS_RETRY_MS[Math.min(eventsTries++, EVENTS_RETRY_MS.length - 1)];
      setTimeout(listen, wait);
    });
  }

  window.addEventListener('message', (event) => {
    const data = event.data;
    if (event.source !== window || event.origin !== ORIGIN) return;
    if (!data || data.channel !== TO_CONTENT || typeof data.id !== 'string') return;
    if (data.type === 'request') start(data.id, String(data.action), data.params ?? {});
    else if (data.type === 'abort') abort(data.id);
    else if (data.type === 'subscribe') listen();
  });
})();
