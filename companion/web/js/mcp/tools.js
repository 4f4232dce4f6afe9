// An instance's tool allow-list: the server's tools as last fetched (fetched again on Refresh),
// a box per tool, and "every tool", which also allows tools the server adds later (the
// companion stores no list then). Chat, apps and tokens see only the allowed tools, and the
// companion refuses a call of any other.
import { html, useEffect, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { timeAgo, useLoad, useNotice } from '../widgets.js';
import { INSTANCES } from './common.js';

function choiceOf(data) {
  return { all: data.allowed_tools === null,
    picked: new Set(data.allowed_tools ?? data.tools.map((t) => t.name)) };
}

function ToolRow({ tool, choice, toggle }) {
  const id = `tool-${tool.name}`;
  return html`<tr data-testid="tool-row" data-name=${tool.name}>
    <td class="mcp-tool-check"><input type="checkbox" id=${id} data-testid=${id}
      checked=${choice.all || choice.picked.has(tool.name)} disabled=${choice.all}
      onChange=${() => toggle(tool.name)} /></td>
    <td data-label="Tool"><label for=${id}><code>${tool.name}</code></label></td>
    <td data-label="What it does" class="mcp-tool-desc">${tool.description ?? ''}</td>
  </tr>`;
}

/** The tools card of one instance (`instance.id`); `version` changes reload it. */
export function ToolsSection({ instance, version }) {
  // Refresh asks the server once; other loads (events) read what the companion last fetched.
  const fresh = useRef(false);
  const state = useLoad(() => {
    const query = fresh.current ? '?refresh=1' : '';
    fresh.current = false;
    return api(`${INSTANCES}/${instance.id}/tools${query}`);
  }, [instance.id, version]);
  const [choice, setChoice] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const notice = useNotice();
  // Boxes being changed stay as they are until the stored choice or the tools change.
  const stored = state.data
    ? JSON.stringify([state.data.allowed_tools, state.data.tools.map((t) => t.name)]) : null;
  useEffect(() => { if (state.data) setChoice(choiceOf(state.data)); }, [stored]);
  const refresh = () => {
    fresh.current = true;
    state.reload();
  };
  const toggle = (name) => setChoice((old) => {
    const picked = new Set(old.picked);
    if (picked.has(name)) picked.delete(name); else picked.add(name);
    return { ...old, picked };
  });
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`${INSTANCES}/${instance.id}/tools`, { method: 'PUT',
        body: { allowed_tools: choice.all ? null : [...choice.picked].sort() } });
      notice.show('Saved');
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const tools = state.data?.tools ?? [];
  return html`<section class="card" aria-labelledby="mcp-tools-title" data-testid="tools">
    <div class="section-head"><h2 id="mcp-tools-title">Tools</h2>
      <button type="button" data-testid="tools-refresh" disabled=${state.loading}
        onClick=${refresh}>Refresh from server</button></div>
    ${state.error ? html`<p class="error" role="alert" data-testid="tools-error">Could not get the
      tools: ${state.error.message}</p>` : null}
    ${state.data === null && !state.error ? html`<p class="loading">Asking the server…</p>` : null}
    ${state.data && choice ? html`
      <p class="muted small">Fetched ${timeAgo(state.data.fetched_at)}. Only the checked tools
        can be listed and called through this instance.</p>
      <label class="mcp-all"><input type="checkbox" data-testid="tools-all" checked=${choice.all}
        onChange=${(e) => setChoice({ ...choice, all: e.target.checked })} />
        <span>Allow every tool, also ones the server adds later</span></label>
      ${tools.length === 0 ? html`<p class="muted">The server offers no tools.</p>` : html`
        <div class="table-wrap"><table class="data stack">
          <thead><tr><th><span class="sr-only">Allowed</span></th><th>Tool</th>
            <th>What it does</th></tr></thead>
          <tbody>${tools.map((tool) => html`<${ToolRow} key=${tool.name} tool=${tool}
            choice=${choice} toggle=${toggle} />`)}</tbody></table></div>`}
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="form-actions"><button type="button" class="primary" disabled=${busy}
        data-testid="tools-save" onClick=${save}>Save allowed tools</button>
        <${notice.Notice} /></div>` : null}
  </section>`;
}
