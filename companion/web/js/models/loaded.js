// Models → Loaded: the llama.cpp children running now (state, resident memory, requests in
// flight and waiting), unload for each, and a picker to load any local alias ahead of its
// first request. `models.loaded` events keep the table current; memory is looked at again
// every few seconds while the tab is open, since it changes without an event.
import { html, useEffect, useState } from '../lib.js';
import { api } from '../api.js';
import { allows } from '../session.js';
import { formatBytes, LoadState, timeAgo, useLoad, useNotice } from '../widgets.js';
import { localAliases, PowerUsersOnly, useEventReload } from './common.js';

const MEMORY_EVERY_MS = 10000;
const STATE_BADGE = { ready: 'ok', starting: '', stopping: 'bad', unloading: 'bad' };

function modelPath(alias, action) {
  return `/bodhi/v1/models/${alias.split('/').map(encodeURIComponent).join('/')}/${action}`;
}

function LoadPicker({ aliases, loaded, onDone }) {
  const [choice, setChoice] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const names = aliases.map((a) => a.alias).filter((name) => !loaded.includes(name));
  const picked = names.includes(choice) ? choice : names[0] ?? '';
  const load = async (event) => {
    event.preventDefault();
    if (!picked) return;
    setBusy(true);
    setProblem(null);
    try {
      await api(modelPath(picked, 'load'), { method: 'POST' });
      onDone(`Loaded ${picked}.`);
    } catch (error) {
      setProblem(error.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="load-picker" onSubmit=${load} noValidate>
    <div class="form-field"><label for="load-alias">Load a model</label>
      <select id="load-alias" data-testid="load-alias" value=${picked} disabled=${!names.length}
        onChange=${(e) => setChoice(e.target.value)}>
        ${names.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}
      </select></div>
    <button type="submit" class="primary" data-testid="load-button"
      disabled=${busy || !picked}>${busy ? 'Loading…' : 'Load'}</button>
    ${problem ? html`<p class="error" role="alert" data-testid="load-problem">${problem}</p>`
      : null}
  </form>`;
}

function LoadedRow({ model, onUnload }) {
  const [busy, setBusy] = useState(false);
  const unload = async () => {
    setBusy(true);
    try {
      await onUnload(model.alias);
    } finally {
      setBusy(false);
    }
  };
  return html`<tr data-testid="loaded-row" data-alias=${model.alias} data-state=${model.state}>
    <td data-label="Model"><strong>${model.alias}</strong>${model.embeddings
      ? html` <span class="badge">embeddings</span>` : null}</td>
    <td data-label="State"><span class=${`badge ${STATE_BADGE[model.state] ?? ''}`}
      data-testid="loaded-state">${model.state}</span></td>
    <td data-label="Memory">${formatBytes(model.rss)}</td>
    <td data-label="In flight" data-testid="loaded-in-flight">${model.in_flight}</td>
    <td data-label="Waiting">${model.queued}</td>
    <td data-label="Loaded">${timeAgo(model.loaded_at)}</td>
    <td data-label="Last used">${timeAgo(model.last_used)}</td>
    <td data-label="Process" class="muted">${model.pid ? `pid ${model.pid}` : '—'}${model.port
      ? `, port ${model.port}` : ''}</td>
    <td class="actions"><button type="button" data-testid="unload-button"
      aria-label=${`Unload ${model.alias}`} disabled=${busy || model.state !== 'ready'}
      onClick=${unload}>${busy ? 'Unloading…' : 'Unload'}</button></td>
  </tr>`;
}

function LoadedTable({ models, onUnload }) {
  if (models.length === 0) {
    return html`<p class="muted" data-testid="nothing-loaded">No model is loaded. A model loads
      with its first request, or here.</p>`;
  }
  return html`<div class="table-wrap"><table class="data stack" data-testid="loaded-table">
    <thead><tr><th scope="col">Model</th><th scope="col">State</th><th scope="col">Memory</th>
      <th scope="col">In flight</th><th scope="col">Waiting</th><th scope="col">Loaded</th>
      <th scope="col">Last used</th><th scope="col">Process</th>
      <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${models.map((m) => html`<${LoadedRow} key=${m.alias} model=${m}
      onUnload=${onUnload} />`)}</tbody></table></div>`;
}

function LoadedModels() {
  const loaded = useLoad(async () => (await api('/bodhi/v1/models/loaded')).data);
  const aliases = useLoad(localAliases);
  const notice = useNotice();
  const [problem, setProblem] = useState(null);
  useEventReload(['models.loaded'], loaded.reload);
  useEventReload(['models.changed'], aliases.reload);
  useEffect(() => {
    const timer = setInterval(loaded.reload, MEMORY_EVERY_MS);
    return () => clearInterval(timer);
  }, [loaded.reload]);
  const unload = async (alias) => {
    setProblem(null);
    try {
      await api(modelPath(alias, 'unload'), { method: 'POST' });
      notice.show(`Unloaded ${alias}.`);
    } catch (error) {
      setProblem(error.message);
    }
    loaded.reload();
  };
  const models = loaded.data ?? [];
  return html`<div class="tab-body" data-testid="loaded-tab">
    <section class="card" aria-labelledby="loaded-title"><h2 id="loaded-title">Loaded now</h2>
      <${LoadState} state=${loaded} what="the loaded models" />
      ${loaded.data ? html`<${LoadedTable} models=${models} onUnload=${unload} />` : null}
      ${problem ? html`<p class="error" role="alert">${problem}</p>` : null}
      <${notice.Notice} />
      <${LoadPicker} aliases=${aliases.data ?? []} loaded=${models.map((m) => m.alias)}
        onDone=${(message) => { notice.show(message); loaded.reload(); }} />
    </section></div>`;
}

export default function Loaded({ session }) {
  return allows(session.user.role, 'resource_power_user') ? html`<${LoadedModels} />`
    : html`<${PowerUsersOnly} what="the loaded models" />`;
}
