// The chat page's MCP pieces: the panel where a conversation picks the user's MCP instances
// (and sees each one's allowed tools), and a tool call in the conversation: collapsed to its
// name and status, open to its arguments and result. Arguments and results are shown as
// text, never as HTML: they come from a model and a server. A call waiting for the user's
// choice gets Run and Skip, and Run takes the focus so the keyboard can answer at once.
import { html, useEffect, useLayoutEffect, useRef, useState } from '../lib.js';
import { useLoad } from '../widgets.js';
import { Link } from '../router.js';
import { loadInstances, loadTools, usable } from './mcp_tools.js';

function ToolNames({ instance }) {
  const [state, setState] = useState({ tools: null, error: null });
  useEffect(() => {
    if (!usable(instance)) return;
    loadTools(instance.id).then((tools) => setState({ tools, error: null }),
      (error) => setState({ tools: null, error }));
  }, [instance.id]);
  if (!usable(instance)) return html`<span class="muted">disabled</span>`;
  if (state.error) {
    return html`<span class="error">tools unavailable: ${state.error.message}</span>`;
  }
  if (!state.tools) return html`<span class="muted">listing tools…</span>`;
  if (!state.tools.length) return html`<span class="muted">no tools allowed</span>`;
  return html`<span class="muted" data-testid="mcp-instance-tools">
    ${state.tools.map((t) => t.name).join(', ')}</span>`;
}

/** Which instances the conversation uses, and whether the first reply must call a tool. */
export function McpPanel({ conversation, onChange }) {
  const instances = useLoad(loadInstances, []);
  const chosen = conversation.mcps ?? [];
  const toggle = (id, on) => onChange({ mcps: on ? [...chosen, id]
    : chosen.filter((c) => c !== id) });
  const list = instances.data ?? [];
  return html`<fieldset class="params mcp-panel" data-testid="mcp-panel">
    <legend>MCP tools</legend>
    ${instances.error && html`<p class="error" role="alert">Your MCP instances could not be
      listed: ${instances.error.message}</p>`}
    ${!instances.data && !instances.error && html`<p class="muted">Loading…</p>`}
    ${instances.data && !list.length && html`<p class="muted">You have no MCP instances yet:
      connect a server on the <${Link} href="/ui/mcp">MCP page<//>.</p>`}
    <ul class="mcp-instances">
      ${list.map((i) => html`<li key=${i.id}><label class="check">
        <input type="checkbox" data-testid="mcp-instance" data-id=${i.id}
          checked=${chosen.includes(i.id)} disabled=${!usable(i) && !chosen.includes(i.id)}
          onChange=${(e) => toggle(i.id, e.target.checked)} />
        <span><strong>${i.name}</strong> <span class="muted">(${i.server?.name ?? i.slug})</span>
          <br /><${ToolNames} instance=${i} /></span></label></li>`)}
    </ul>
    <label class="check"><input type="checkbox" data-testid="mcp-tool-first"
        checked=${conversation.toolFirst === true} disabled=${!chosen.length}
        onChange=${(e) => onChange({ toolFirst: e.target.checked })} />
      <span>Make the model call a tool first (tool_choice "required" on the first request
        after each message)</span></label>
  </fieldset>`;
}

const STATUS = { queued: 'queued', ok: 'done', error: 'failed', declined: 'skipped by you',
  stopped: 'stopped', skipped: 'not run', waiting: 'waits for you', running: 'running…' };

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text ?? '';
  }
}

function Approval({ call, onDecide }) {
  const run = useRef(null);
  useLayoutEffect(() => { run.current?.focus(); }, []);
  return html`<div class="tool-approval" role="group"
      aria-label=${`Run the tool ${call.function.name}?`} data-testid="tool-approval">
    <span>Run this tool call?</span>
    <button type="button" class="primary" ref=${run} data-testid="tool-run"
      onClick=${() => onDecide(call.id, true)}>Run</button>
    <button type="button" data-testid="tool-skip"
      onClick=${() => onDecide(call.id, false)}>Skip</button>
  </div>`;
}

/** One tool call with its result (a `tool` message) or its live state. */
export function ToolCall({ call, result, state, onDecide }) {
  const status = result?.status ?? state ?? 'skipped';
  const where = result?.instance?.name ?? call.instance;
  return html`<div class="tool-call" data-testid="tool-call" data-status=${status}
      data-name=${call.function.name}>
    <details>
      <summary><span class="tool-name">${call.function.name}</span>
        ${where && html` <span class="muted">on ${where}</span>`}
        <span class=${`badge ${status === 'ok' ? 'ok' : status === 'error' ? 'bad' : ''}`}
          data-testid="tool-status">${STATUS[status] ?? status}</span></summary>
      <div class="tool-detail">
        <div class="label">Arguments</div>
        <pre data-testid="tool-arguments">${pretty(call.function.arguments) || '{}'}</pre>
        <div class="label">Result</div>
        ${result ? html`<pre data-testid="tool-result">${result.content}</pre>`
          : html`<p class="muted">No result yet.</p>`}
      </div>
    </details>
    ${state === 'waiting' && html`<${Approval} call=${call} onDecide=${onDecide} />`}
  </div>`;
}

/** The tool calls of an assistant message, each with its result from `results`. */
export function ToolCalls({ message, results, calls, onDecide }) {
  // `calls` is the live run's states: a call of that run without one has yet to start.
  return html`<div class="tool-calls">
    ${message.tool_calls.map((call) => html`<${ToolCall} key=${call.id} call=${call}
      result=${results.get(call.id)} state=${calls ? calls[call.id] ?? 'queued' : undefined}
      onDecide=${onDecide} />`)}
  </div>`;
}
