"""The extension's MCP pieces in node, with the real modules: the background's relay
(background/mcp.js) against a stand-in `fetch`, and window.bodhi.mcp.transport()
(inpage/bodhi.js) driven by the official MCP TypeScript SDK's Client over a stand-in bridge.
The browser tier (e2e/test_mcp.py) runs the same against the real companion and MCP server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extension"

RELAY = """
const data = {serverUrl: 'http://127.0.0.1:1', appTokens: {'http://a.test': {
  access_token: 'app-token', refresh_token: 'r', expires_at: 4e9, expires_in: 900,
  grant_id: 'g', scopes: ['mcp']}}};
globalThis.chrome = {storage: {local: {
  get: async (key) => ({[key]: structuredClone(data[key])}),
  set: async (values) => Object.assign(data, structuredClone(values)),
  remove: async (keys) => keys.forEach((k) => delete data[k]),
}}};
const sent = [];
const replies = [];
globalThis.fetch = async (url, init) => {
  sent.push({url, method: init.method, headers: init.headers, body: init.body});
  return replies.shift();
};
const mcp = await import(process.argv[1]);
const ctx = {signal: new AbortController().signal,
  stream: async (items, fields) => { const chunks = []; for await (const c of items) chunks.push(c);
                                     return {fields, chunks}; }};
const out = {};
const sse = 'event: message\\ndata: {"jsonrpc":"2.0","method":"notifications/progress",' +
  '"params":{"progress":1}}\\n\\nevent: message\\ndata: {"jsonrpc":"2.0","id":2,' +
  '"result":{"tools":[]}}\\n\\n';
replies.push(new Response(sse, {headers: {'Content-Type': 'text/event-stream',
  'Mcp-Session-Id': 's-1'}}));
out.sse = await mcp.send('http://a.test', {id: 'i/1', session_id: 's-1',
  protocol_version: '2025-06-18', message: {jsonrpc: '2.0', id: 2, method: 'tools/list'}}, ctx);
replies.push(new Response('{"jsonrpc":"2.0","id":1,"result":{}}', {headers: {
  'Content-Type': 'application/json', 'Mcp-Session-Id': 's-1',
  'MCP-Protocol-Version': '2025-06-18'}}));
out.json = await mcp.send('http://a.test', {id: 'i/1', message: {jsonrpc: '2.0', id: 1,
  method: 'initialize'}}, ctx);
replies.push(new Response(null, {status: 202}));
out.accepted = await mcp.send('http://a.test', {id: 'i/1', session_id: 's-1',
  message: {jsonrpc: '2.0', method: 'notifications/initialized'}}, ctx);
replies.push(new Response('{"result": {"content": [], "isError": false}}'));
out.call = await mcp.call('http://a.test', {id: 'i/1', method: 'tools/call',
  params: {name: 'add', arguments: {}}}, ctx);
replies.push(new Response(null, {status: 204}));
out.close = await mcp.close('http://a.test', {id: 'i/1', session_id: 's-1'}, ctx);
out.noSession = await mcp.close('http://a.test', {id: 'i/1'}, ctx);
replies.push(new Response('{"error": {"message": "no such instance", "type": "not_found_error",' +
  '"code": "mcp_instance_not_found"}}', {status: 404}));
out.refused = await mcp.call('http://a.test', {id: 'x', method: 'tools/list'}, ctx)
  .catch((e) => e.toJSON());
out.bad = {};
for (const [name, call] of Object.entries({
  method: () => mcp.call('http://a.test', {id: 'i', method: 'sampling/createMessage'}, ctx),
  id: () => mcp.call('http://a.test', {id: 7, method: 'tools/list'}, ctx),
  message: () => mcp.send('http://a.test', {id: 'i', message: 'hello'}, ctx),
  header: () => mcp.send('http://a.test', {id: 'i', session_id: 'a\\nb',
    message: {jsonrpc: '2.0', id: 1, method: 'ping'}}, ctx),
})) {
  out.bad[name] = await call().then(() => 'ok', (e) => [e.code, e.status]);
}
out.sent = sent;
console.log(JSON.stringify(out));
"""

# A window with no browser around it: postMessage goes to a stand-in content script that
# answers each mcp.send from a tiny in-memory MCP server, as the background would.
TRANSPORT = """
const ORIGIN = 'http://a.test';
const listeners = [];
const seen = [];
const toPage = (data) => setTimeout(() => listeners.forEach((f) => f(
  {source: globalThis.window, origin: ORIGIN, data: {channel: 'bodhi:content->page', ...data}})));
function server(message) {
  if (message.method === 'initialize') return [{jsonrpc: '2.0', id: message.id, result: {
    protocolVersion: message.params.protocolVersion, capabilities: {tools: {}},
    serverInfo: {name: 'stand-in', version: '1'}}}];
  if (message.method === 'tools/call') return [
    {jsonrpc: '2.0', method: 'notifications/message', params: {level: 'info', data: 'adding'}},
    {jsonrpc: '2.0', id: message.id, result: {content: [{type: 'text',
      text: String(message.params.arguments.a + message.params.arguments.b)}]}}];
  return [];
}
globalThis.window = {
  location: {origin: ORIGIN},
  addEventListener: (type, f) => { if (type === 'message') listeners.push(f); },
  dispatchEvent: () => true,
  postMessage: (data, target) => {
    if (data.type !== 'request' || target !== ORIGIN) return;
    seen.push({action: data.action, params: data.params});
    if (data.action === 'mcp.close') return toPage({id: data.id, type: 'result',
      result: {closed: true}});
    toPage({id: data.id, type: 'open', session_id: 'sess-1', protocol_version: undefined});
    for (const chunk of server(data.params.message)) toPage({id: data.id, type: 'chunk', chunk});
    toPage({id: data.id, type: 'end'});
  },
};
globalThis.document = {readyState: 'complete'};
globalThis.CustomEvent = class { constructor(type) { this.type = type; } };
const [bodhiPath, sdkPath] = process.argv.slice(1);
await import(bodhiPath);
const { Client } = await import(sdkPath);
const client = new Client({name: 'unit', version: '1'});
const transport = window.bodhi.mcp.transport('inst-1');
const logged = [];
await client.connect(transport);
client.fallbackNotificationHandler = async (n) => { logged.push(n.method); };
const sum = await client.callTool({name: 'add', arguments: {a: 2, b: 3}});
await client.close();
const after = await transport.send({jsonrpc: '2.0', method: 'ping'}).then(() => 'sent',
  (e) => e.code);
console.log(JSON.stringify({sum, logged, session: transport.sessionId, after,
  seen: seen.map((s) => [s.action, s.params.message?.method ?? null, s.params.session_id ?? null,
                         s.params.protocol_version ?? null])}));
"""


def run_node(script: str, *args: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install Node.js (scripts/test checks for it)")
    done = subprocess.run([node, "--input-type=module", "-e", script, *map(str, args)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def relay() -> dict[str, Any]:
    return run_node(RELAY, EXTENSION / "background" / "mcp.js")


def test_sse_replies_become_one_chunk_per_message_with_the_session(relay: dict[str, Any]) -> None:
    assert relay["sse"]["fields"] == {"session_id": "s-1"}
    assert [m.get("method") or m["id"] for m in relay["sse"]["chunks"]] == [
        "notifications/progress", 2]
    first = relay["sent"][0]
    assert first["url"] == "http://127.0.0.1:1/bodhi/v1/apps/mcps/i%2F1/mcp"
    assert first["method"] == "POST"
    assert first["headers"]["Authorization"] == "Bearer app-token"
    assert first["headers"]["Accept"] == "application/json, text/event-stream"
    assert first["headers"]["Mcp-Session-Id"] == "s-1"
    assert first["headers"]["MCP-Protocol-Version"] == "2025-06-18"


def test_json_replies_and_notifications(relay: dict[str, Any]) -> None:
    assert relay["json"] == {"fields": {"session_id": "s-1", "protocol_version": "2025-06-18"},
                             "chunks": [{"jsonrpc": "2.0", "id": 1, "result": {}}]}
    assert "Mcp-Session-Id" not in relay["sent"][1]["headers"]      # none before initialize
    assert relay["accepted"] == {"fields": {}, "chunks": []}


def test_call_answers_the_result_and_close_deletes_the_session(relay: dict[str, Any]) -> None:
    assert relay["call"] == {"content": [], "isError": False}
    call = relay["sent"][3]
    assert call["url"].endswith("/bodhi/v1/apps/mcps/i%2F1/call")
    assert json.loads(call["body"]) == {"method": "tools/call",
                                        "params": {"name": "add", "arguments": {}}}
    assert relay["close"] == {"closed": True}
    assert relay["sent"][4]["method"] == "DELETE"
    assert relay["sent"][4]["headers"]["Mcp-Session-Id"] == "s-1"
    assert relay["noSession"] == {"closed": False}                  # nothing sent
    assert len(relay["sent"]) == 6


def test_refusals_and_bad_shapes(relay: dict[str, Any]) -> None:
    assert relay["refused"]["code"] == "api_error"
    assert relay["refused"]["status"] == 404
    assert relay["refused"]["body"]["error"]["code"] == "mcp_instance_not_found"
    assert relay["bad"] == {name: ["api_error", 400] for name in
                            ("method", "id", "message", "header")}


def test_the_mcp_sdk_client_runs_over_the_page_transport() -> None:
    from e2e.mcp_sdk import ensure_bundle

    out = run_node(TRANSPORT, EXTENSION / "inpage" / "bodhi.js", ensure_bundle())

    assert out["sum"]["content"] == [{"type": "text", "text": "5"}]
    assert out["logged"] == ["notifications/message"]
    assert out["session"] == "sess-1"
    assert out["after"] == "api_error"                       # closed: nothing more is sent
    initialize, initialized, call, close = out["seen"]
    assert initialize == ["mcp.send", "initialize", None, None]
    assert initialized[:3] == ["mcp.send", "notifications/initialized", "sess-1"]
    assert initialized[3] == call[3] == close[3] is not None  # the SDK's protocol version
    assert call[:3] == ["mcp.send", "tools/call", "sess-1"]
    assert close[:3] == ["mcp.close", None, "sess-1"]
