// MCP for pages: the origin's granted MCP instances, called with its app token. Two ways in:
// `mcp.call` runs one MCP method through the companion's /call endpoint and answers its
// result; `mcp.send` relays one raw JSON-RPC message of a page's MCP client (window.bodhi.mcp
// .transport) to the companion's Streamable HTTP proxy and streams back the messages of the
// reply, with the session id and protocol version, which pass in headers both ways.
import { Code, ExtensionError } from '../common/errors.js';
import { INFERENCE_HEADERS_TIMEOUT_MS, apiError } from './companion.js';
import { appFetch } from './grants.js';
import { sseJson } from './sse.js';

const METHODS = new Set(['tools/list', 'tools/call', 'resources/list',
  'resources/templates/list', 'resources/read', 'prompts/list', 'prompts/get']);
const SESSION = 'Mcp-Session-Id';
const VERSION = 'MCP-Protocol-Version';

const badRequest = (message) => new ExtensionError(Code.API_ERROR, message, { status: 400 });
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

function instancePath(id, tail = '') {
  if (typeof id !== 'string' || !id || id.length > 200) {
    throw badRequest('an MCP instance id (a string from mcp.list()) is needed');
  }
  return `/bodhi/v1/apps/mcps/${encodeURIComponent(id)}${tail}`;
}

// The proxy's headers go only where a session exists; values a page sends are plain tokens.
function sessionHeaders({ session_id: session, protocol_version: version }) {
  const headers = {};
  for (const [name, value] of [[SESSION, session], [VERSION, version]]) {
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(value)) {
      throw badRequest(`${name} must be visible ASCII`);
    }
    headers[name] = value;
  }
  return headers;
}

async function json(origin, path, options) {
  const response = await appFetch(origin, path, { timeout: INFERENCE_HEADERS_TIMEOUT_MS,
    ...options });
  if (!response.ok) throw await apiError(response);
  return response.json();
}

/** `[{id, name, slug, server: {name, kind, url}}]`: the instances the grant holds. */
export async function list(origin, _params, { signal }) {
  return (await json(origin, '/bodhi/v1/apps/mcps', { signal })).data;
}

/** One MCP method on an instance; answers the MCP result object. */
export async function call(origin, { id, method, params = {} }, { signal }) {
  if (!METHODS.has(method)) throw badRequest(`method must be one of ${[...METHODS].join(', ')}`);
  if (!isObject(params)) throw badRequest('params must be an object');
  const answer = await json(origin, instancePath(id, '/call'),
    { method: 'POST', body: { method, params }, signal });
  return answer.result;
}

async function* replyMessages(response, signal) {
  if (response.status === 202 || response.status === 204) return;
  const type = response.headers.get('Content-Type') ?? '';
  if (type.startsWith('text/event-stream')) {
    yield* sseJson(response.body, signal);
    return;
  }
  const text = await response.text();
  if (!text.trim()) return;
  const body = JSON.parse(text);
  yield* (Array.isArray(body) ? body : [body]);
}

/** Relays one JSON-RPC message; streams the reply's messages (none for a notification). */
export async function send(origin, params, { signal, stream }) {
  const { id, message } = params;
  if (!isObject(message) || message.jsonrpc !== '2.0') {
    throw badRequest('message must be one JSON-RPC 2.0 message');
  }
  const response = await appFetch(origin, instancePath(id, '/mcp'), {
    method: 'POST', body: message, signal, timeout: INFERENCE_HEADERS_TIMEOUT_MS,
    headers: { Accept: 'application/json, text/event-stream', ...sessionHeaders(params) },
  });
  if (!response.ok) throw await apiError(response);
  return stream(replyMessages(response, signal), {
    session_id: response.headers.get(SESSION) ?? undefined,
    protocol_version: response.headers.get(VERSION) ?? undefined,
  });
}

/** Ends the session on the server (DELETE); a server that keeps none answers 405. */
export async function close(origin, params, { signal }) {
  const headers = sessionHeaders(params);
  if (!headers[SESSION]) return { closed: false };
  const response = await appFetch(origin, instancePath(params.id, '/mcp'),
    { method: 'DELETE', headers, signal });
  if (!response.ok && response.status !== 405) throw await apiError(response);
  return { closed: response.ok };
}
