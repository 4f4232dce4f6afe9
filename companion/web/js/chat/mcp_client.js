// MCP from the chat page: Streamable HTTP (JSON-RPC over POST) to one of the user's instances
// through the companion's proxy at /bodhi/v1/mcps/{id}/mcp, with this browser's session cookie.
// One MCP session per instance for the page's life (initialize, then
// notifications/initialized; the server names it in Mcp-Session-Id), then tools/call. A reply
// is either one JSON body or a stream of server-sent events that carries the answer among
// notifications: both are read. A session the server forgot (404) is opened again once.
import { ApiError, api } from '../api.js';

const PROTOCOL = '2025-06-18';
const ACCEPT = 'application/json, text/event-stream';
const sessions = new Map();               // instance id -> Promise<{id, protocol}>
let serial = 0;

function parseEvent(block) {
  const data = block.split('\n').filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trimStart()).join('\n');
  return data ? JSON.parse(data) : null;
}

function answerIn(message, id) {
  const list = Array.isArray(message) ? message : [message];
  return list.find((m) => m && m.id === id && ('result' in m || 'error' in m)) ?? null;
}

/** The JSON-RPC answer to request `id` in a response, whichever form it came in. */
async function readAnswer(response, id) {
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream')) return answerIn(await response.json(), id);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      buffer = (buffer + value).replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const answer = answerIn(parseEvent(buffer.slice(0, end)), id);
        buffer = buffer.slice(end + 2);
        if (answer) return answer;
      }
    }
  } finally {
    reader.cancel().catch(() => {});      // the answer is in: let the stream go
  }
}

function post(instanceId, message, session, signal) {
  const headers = { Accept: ACCEPT };
  if (session) {
    headers['Mcp-Session-Id'] = session.id;
    headers['Mcp-Protocol-Version'] = session.protocol;
  }
  return api(`/bodhi/v1/mcps/${encodeURIComponent(instanceId)}/mcp`, { method: 'POST',
    body: message, raw: true, headers, signal });
}

async function request(instanceId, method, params, session, signal) {
  serial += 1;
  const id = serial;
  const response = await post(instanceId, { jsonrpc: '2.0', id, method, params }, session,
    signal);
  const answer = await readAnswer(response, id);
  if (!answer) throw new ApiError(502, `The MCP server gave no answer to ${method}.`);
  if (answer.error) {
    throw new ApiError(502, answer.error.message ?? `${method} failed.`, 'mcp_error');
  }
  return { result: answer.result, response };
}

async function open(instanceId, signal) {
  const { result, response } = await request(instanceId, 'initialize', {
    protocolVersion: PROTOCOL, capabilities: {},
    clientInfo: { name: 'bodhi-web-ui', version: '1' } }, null, signal);
  const session = { id: response.headers.get('mcp-session-id'),
    protocol: result.protocolVersion ?? PROTOCOL };
  if (!session.id) delete session.id;     // a stateless server: no session header to send
  const note = await post(instanceId, { jsonrpc: '2.0', method: 'notifications/initialized' },
    session.id ? session : null, signal);
  await note.body?.cancel();
  return session;
}

function sessionFor(instanceId, signal) {
  if (!sessions.has(instanceId)) {
    const opening = open(instanceId, signal);
    sessions.set(instanceId, opening);
    opening.catch(() => sessions.delete(instanceId));
  }
  return sessions.get(instanceId);
}

/** The text of a tools/call result: its text parts, and anything else as JSON. */
export function resultText(result) {
  const parts = (result?.content ?? []).map((part) => (part.type === 'text' ? part.text
    : JSON.stringify(part)));
  if (!parts.length && result?.structuredContent !== undefined) {
    parts.push(JSON.stringify(result.structuredContent));
  }
  return parts.join('\n');
}

/** Calls `tool` on an instance: {text, isError}. Throws ApiError when the call cannot run. */
export async function callTool(instanceId, tool, args, signal) {
  for (let attempt = 1; ; attempt += 1) {
    const session = await sessionFor(instanceId, signal);
    try {
      const { result } = await request(instanceId, 'tools/call', { name: tool,
        arguments: args }, session.id ? session : null, signal);
      return { text: resultText(result), isError: result?.isError === true };
    } catch (error) {
      if (error.status !== 404 || attempt > 1) throw error;
      sessions.delete(instanceId);        // the server forgot the session: open a new one
    }
  }
}
