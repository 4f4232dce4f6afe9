// window.bodhi: the page-facing API. Runs in the page's MAIN world at document_start.
//
// It holds no secret and no privilege: every call becomes a message to the content script
// (window.postMessage to the page's own origin, tagged with a channel), which relays it to the
// background. The protocol is described in docs/extension-protocol.md.
(() => {
  'use strict';
  if (window.bodhi !== undefined) return;

  const TO_CONTENT = 'bodhi:page->content';
  const TO_PAGE = 'bodhi:content->page';
  const TIMEOUTS = {                       // milliseconds, per action
    default: 30_000,
    requestAccess: 21 * 60_000,            // first-run guide (10 min) + consent (10 min)
    chat: 10 * 60_000,                     // a cold model load plus a long answer
    'embeddings.create': 5 * 60_000,
    'mcp.call': 5 * 60_000,                // a tool may work a while; pass {timeout} to bound it
  };
  const MAX_TIMEOUT_MS = 2 ** 31 - 1;      // setTimeout fires at once beyond this
  const STREAM_IDLE_MS = 5 * 60_000;       // longest silence between two stream events
  const ORIGIN = window.location.origin;
  const pending = new Map();               // id -> {onEvent}
  let counter = 0;

  class BodhiError extends Error {
    constructor(code, message, extra = {}) {
      super(message || code);
      this.name = 'BodhiError';
      this.code = code;
      if (extra.status !== undefined) this.status = extra.status;
      if (extra.body !== undefined) this.body = extra.body;
      // cooldown, rate_limited: seconds to wait before asking again
      if (extra.retry_after !== undefined) this.retry_after = extra.retry_after;
    }
  }

  const toError = (e) => new BodhiError(e?.code || 'api_error', e?.message, e || {});

  function post(message) {
    window.postMessage({ channel: TO_CONTENT, ...message }, ORIGIN);
  }

  window.addEventListener('message', (event) => {
    const data = event.data;
    if (event.source !== window || event.origin !== ORIGIN) return;
    if (!data || data.channel !== TO_PAGE) return;
    if (data.type === 'snapshot' && data.id === EVENTS_ID) return onSnapshot(data);
    const entry = pending.get(data.id);
    if (entry) entry.onEvent(data);
  });

  // Events (docs/extension.md, "Events"). The first listener subscribes this frame; from then
  // on the background sends a snapshot of what this origin may know whenever something may
  // have changed. The first is the baseline; each later one fires an event per difference.
  const EVENTS_ID = 'events';
  const EVENT_TYPES = new Set(['statechange', 'grantchange', 'modelschange']);
  const events = new EventTarget();
  let subscribed = false;
  let last = null;

  function addEventListener(type, listener, options) {
    events.addEventListener(type, listener, options);
    if (!subscribed && EVENT_TYPES.has(type)) {
      subscribed = true;
      post({ id: EVENTS_ID, type: 'subscribe' });
    }
  }

  const fire = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));
  const sameList = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

  function onSnapshot({ state, grant, models }) {
    const before = last;
    last = { state, grant, models };
    if (!before) return;
    if (state !== before.state) fire('statechange', { state });
    if ((grant === 'granted') !== (before.grant === 'granted')) {
      fire('grantchange', { state: grant === 'none' ? 'revoked' : grant });
    }
    if (grant === 'granted' && before.grant === 'granted' && models && before.models
        && !sameList(models, before.models)) {
      fire('modelschange', { models: [...models] });
    }
  }

  const nextId = () => `b${Date.now().toString(36)}-${(++counter).toString(36)}`;

  function abortedError() {
    return new BodhiError('aborted', 'the request was aborted');
  }

  // A caller's own timeout (milliseconds) replaces the action's.
  function timeoutFor(action, timeout) {
    if (timeout === undefined) return TIMEOUTS[action] ?? TIMEOUTS.default;
    if (typeof timeout !== 'number' || !(timeout > 0)) {
      throw new BodhiError('api_error', 'timeout must be a positive number of milliseconds');
    }
    return Math.min(timeout, MAX_TIMEOUT_MS);
  }

  // One request, one reply: {type: 'result', result} or {type: 'error', error}.
  function request(action, params, { signal, timeout } = {}) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError());
      const ms = timeoutFor(action, timeout);
      const id = nextId();
      const finish = (fn, value) => {
        clearTimeout(timer);
        pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      const onAbort = () => {
        post({ id, type: 'abort' });
        finish(reject, abortedError());
      };
      const timer = setTimeout(() => {
        post({ id, type: 'abort' });
        finish(reject, new BodhiError('timeout', `${action} got no answer in ${ms / 1000} s`));
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      pending.set(id, {
        onEvent: (data) => {
          if (data.type === 'result') finish(resolve, data.result);
          else if (data.type === 'error') finish(reject, toError(data.error));
        },
      });
      post({ id, type: 'request', action, params: params ?? {} });
    });
  }

  // A stream: {type: 'open'} once the server accepted the request, then many {type: 'chunk'}
  // events, then {type: 'end'} or {type: 'error'}. Resolves with the iterator at 'open', so
  // refusals (not_granted, api_error) reject the call itself, as in OpenAI's SDK. `onOpen`
  // sees the 'open' message (MCP's session headers ride on it).
  function stream(action, params, { signal } = {}, onOpen = () => {}) {
    let opened = null;
    const whenOpen = new Promise((resolve, reject) => { opened = { resolve, reject }; });
    const id = nextId();
    const queue = [];
    let waiter = null;
    let done = false;
    let timer = null;
    const push = (item) => {
      if (done) return;
      if (opened && item.type === 'error') {
        finish();
        opened.reject(toError(item.error));
        opened = null;
        return;
      }
      if (item.type !== 'chunk') finish();
      if (waiter) { const w = waiter; waiter = null; w(item); } else queue.push(item);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        post({ id, type: 'abort' });
        push({ type: 'error', error: { code: 'timeout', message: 'the stream went silent' } });
      }, STREAM_IDLE_MS);
    };
    const finish = () => {
      done = true;
      clearTimeout(timer);
      pending.delete(id);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      post({ id, type: 'abort' });
      push({ type: 'error', error: { code: 'aborted', message: 'the stream was aborted' } });
    };
    pending.set(id, {
      onEvent: (data) => {
        arm();
        if (data.type !== 'open') push(data);
        else if (opened) { onOpen(data); opened.resolve(iterator); opened = null; }
      },
    });
    if (signal?.aborted) {
      opened.reject(abortedError());
      return whenOpen;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    arm();
    post({ id, type: 'request', action, params });
    const next = async () => {
      const item = queue.length ? queue.shift()
        : (done ? { type: 'end' } : await new Promise((r) => { waiter = r; }));
      if (item.type === 'chunk') return { value: item.chunk, done: false };
      if (item.type === 'error') { done = true; throw toError(item.error); }
      return { value: undefined, done: true };
    };
    const iterator = {
      next,
      return: async () => {
        if (!done) { post({ id, type: 'abort' }); finish(); }
        if (waiter) { const w = waiter; waiter = null; w({ type: 'end' }); }
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() { return this; },
    };
    return whenOpen;
  }

  function chat(params, options = {}) {
    if (!params || typeof params !== 'object') {
      return Promise.reject(new BodhiError('api_error', 'chat needs an OpenAI chat request'));
    }
    if (params.stream) return stream('chat', params, options);
    return request('chat', params, options);
  }
  chat.completions = Object.freeze({ create: (params, options) => chat(params, options) });
  Object.freeze(chat);

  // window.bodhi.mcp: the MCP server instances the user granted this origin (ids from list()).
  const call = (id, method, params, options) => request('mcp.call', { id, method, params },
    options);
  const page = (options) => (options?.cursor === undefined ? {} : { cursor: options.cursor });
  const mcp = Object.freeze({
    list: (options) => request('mcp.list', {}, options),
    listTools: (id, options) => call(id, 'tools/list', page(options), options),
    callTool: (id, name, args = {}, options) => call(id, 'tools/call',
      { name, arguments: args }, options),
    listResources: (id, options) => call(id, 'resources/list', page(options), options),
    listResourceTemplates: (id, options) => call(id, 'resources/templates/list', page(options),
      options),
    readResource: (id, uri, options) => call(id, 'resources/read', { uri }, options),
    listPrompts: (id, options) => call(id, 'prompts/list', page(options), options),
    getPrompt: (id, name, args = {}, options) => call(id, 'prompts/get',
      { name, arguments: args }, options),
    transport: (id) => mcpTransport(id),
  });

  // A Transport of the MCP TypeScript SDK (`new Client(…).connect(bodhi.mcp.transport(id))`)
  // to the companion's Streamable HTTP proxy of instance `id`. Each send is one POST made by
  // the extension with the app token: it resolves once the companion accepted the message, and
  // the reply's messages (JSON or SSE) follow through onmessage. close() ends the session.
  function mcpTransport(id) {
    let started = false;
    let closed = false;
    let protocolVersion;
    const replies = new Set();             // the iterators of sends still streaming
    const transport = {
      sessionId: undefined,                // undefined until the server names one (SDK's test)
      onmessage: undefined,
      onerror: undefined,
      onclose: undefined,
      async start() {
        if (started) throw new BodhiError('api_error', 'the transport was started already');
        started = true;
      },
      setProtocolVersion(version) { protocolVersion = version; },
      async send(message) {
        if (closed) throw new BodhiError('api_error', 'the transport is closed');
        let reply;
        try {
          reply = await stream('mcp.send', { id, message, session_id: transport.sessionId,
            protocol_version: protocolVersion }, {}, (open) => {
            if (open.session_id) transport.sessionId = open.session_id;
          });
        } catch (err) {
          transport.onerror?.(err);
          throw err;
        }
        deliver(reply);
      },
      async close() {
        if (closed) return;
        closed = true;
        for (const reply of replies) reply.return();
        if (transport.sessionId !== undefined) {
          await request('mcp.close', { id, session_id: transport.sessionId,
            protocol_version: protocolVersion }).catch((err) => transport.onerror?.(err));
        }
        transport.onclose?.();
      },
    };
    async function deliver(reply) {
      replies.add(reply);
      try {
        for await (const message of reply) transport.onmessage?.(message);
      } catch (err) {
        if (!closed) transport.onerror?.(err);
      } finally {
        replies.delete(reply);
      }
    }
    return transport;
  }

  // Parts of the API that other in-page scripts build and hand over before this one runs
  // (LanguageModel, from inpage/language_model.js), through a symbol-keyed slot taken once.
  const EXTRAS = Symbol.for('bodhi.inpage.extras');
  const extras = window[EXTRAS] ?? {};
  delete window[EXTRAS];

  const bodhi = Object.freeze({
    ...extras,
    serverState: () => request('serverState'),
    requestAccess: (params = {}) => request('requestAccess', params),
    chat,
    models: Object.freeze({ list: () => request('models.list') }),
    embeddings: Object.freeze({
      create: (params, options) => request('embeddings.create', params, options),
    }),
    getToken: () => request('getToken'),
    revoke: () => request('revoke'),
    mcp,
    addEventListener,
    removeEventListener: (type, listener, options) => events.removeEventListener(type,
      listener, options),
    BodhiError,
  });

  Object.defineProperty(window, 'bodhi', {
    value: bodhi, writable: false, configurable: false, enumerable: true,
  });
  Object.defineProperty(window, 'BodhiError', {
    value: BodhiError, writable: false, configurable: false, enumerable: false,
  });
  // window.bodhi exists from document_start, before any page script; the event is for page
  // scripts that start later and prefer to wait: fired once the document is parsed.
  const announce = () => window.dispatchEvent(new CustomEvent('bodhi:ready',
    { detail: { version: 1 } }));
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', announce, { once: true });
  } else {
    announce();
  }
})();
