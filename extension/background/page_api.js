// What a page may ask for (the dispatch table behind window.bodhi). Each request arrives on
// its own Port from the content script; the origin is the port sender's, set by the browser.
// No entry here can create, approve or widen a grant: approval lives in ui_api.js, reachable
// only from the extension's own pages.
import { Code, ExtensionError, serializeError } from '../common/errors.js';
import { INFERENCE_HEADERS_TIMEOUT_MS, apiError } from './companion.js';
import * as consent from './consent.js';
import { appFetch, currentToken, revokeOrigin } from './grants.js';
import * as languageModel from './language_model.js';
import * as mcp from './mcp.js';
import { serverState } from './state.js';
import { sseJson } from './sse.js';

async function inferenceJson(origin, path, options = {}) {
  const response = await appFetch(origin, path, { timeout: INFERENCE_HEADERS_TIMEOUT_MS,
    ...options });
  if (!response.ok) throw await apiError(response);
  return response.json();
}

async function chat(origin, params, { signal, stream }) {
  const body = { ...params };
  body.model ??= await languageModel.defaultModel(origin);
  const response = await appFetch(origin, '/v1/chat/completions', {
    method: 'POST', body, signal, timeout: INFERENCE_HEADERS_TIMEOUT_MS,
  });
  if (!response.ok) throw await apiError(response);
  if (!body.stream) return response.json();
  return stream(sseJson(response.body, signal, { openai: true }));
}

// What a handler returns once it has answered with a stream instead of one result.
const STREAMED = Symbol('streamed');

const ACTIONS = {
  serverState: () => serverState(),
  requestAccess: (origin, params, ctx) => consent.requestAccess(origin, params, ctx),
  chat,
  'models.list': (origin, _params, { signal }) => inferenceJson(origin, '/v1/models', { signal }),
  'embeddings.create': async (origin, params, { signal }) => inferenceJson(origin,
    '/v1/embeddings', { method: 'POST', signal, body: { ...params,
      model: params?.model ?? await languageModel.defaultModel(origin) } }),
  getToken: async (origin) => {
    const entry = await currentToken(origin);
    return { access_token: entry.access_token, expires_at: entry.expires_at };
  },
  revoke: (origin) => revokeOrigin(origin),
  'mcp.list': mcp.list,
  'mcp.call': mcp.call,
  'mcp.send': mcp.send,
  'mcp.close': mcp.close,
  ...languageModel.PAGE_ACTIONS,
};

export function senderOrigin(sender) {
  const origin = sender?.origin ?? (sender?.url ? new URL(sender.url).origin : null);
  return origin && /^https?:\/\//.test(origin) ? origin : null;
}

/** Serves one page request arriving on `port`. */
export function servePagePort(port) {
  const origin = senderOrigin(port.sender);
  const controller = new AbortController();
  let closed = false;
  port.onDisconnect.addListener(() => { closed = true; controller.abort(); });
  const send = (message) => { if (!closed) port.postMessage(message); };
  // A streamed answer: `open` (with `fields`, e.g. headers the page needs), a `chunk` per item,
  // then `end`; an error meanwhile ends it with `error` instead.
  const stream = async (items, fields = {}) => {
    send({ type: 'open', ...fields });
    for await (const chunk of items) send({ type: 'chunk', chunk });
    send({ type: 'end' });
    return STREAMED;
  };
  port.onMessage.addListener(async ({ action, params, userAction } = {}) => {
    try {
      const handler = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : null;
      if (!handler) throw new ExtensionError(Code.BAD_REQUEST, `unknown action ${action}`);
      if (!origin) throw new ExtensionError(Code.BAD_REQUEST, 'requests need an http(s) page');
      const result = await handler(origin, params ?? {},
        { signal: controller.signal, stream, userAction: userAction === true });
      if (result !== STREAMED) send({ type: 'result', result });
    } catch (err) {
      send({ type: 'error', error: controller.signal.aborted
        ? { code: Code.ABORTED, message: 'aborted' } : serializeError(err) });
    }
  });
}
