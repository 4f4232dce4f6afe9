// The Models page's "Routers" tab: router aliases, one model name over several models (local or
// remote) tried in order (fallback) or in turn (round robin). Power users and up add, change and
// delete them; targets are picked from the models this user may use and can be reordered.
import { allPages, api } from '../api.js';
import { useEvents } from '../events.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { html, useState } from '../lib.js';
import { allows } from '../session.js';
import { ConfirmButton, LoadState, useLoad, useNotice } from '../widgets.js';

const STRATEGIES = [
  { value: 'fallback', label: 'Fallback: the first that works, in this order' },
  { value: 'round_robin', label: 'Round robin: each request starts one further along' },
];
const NAME_PATTERN = /^[^\s\x00-\x1f]{1,200}$/;

function validate(v, creating) {
  return {
    alias: creating ? (check.required(v.alias, 'The alias')
      ?? (NAME_PATTERN.test(v.alias) ? null : 'An alias is 1 to 200 characters, no spaces.'))
      : null,
    targets: v.targets.length ? null : 'Add at least one target.',
  };
}

function TargetList({ form, names }) {
  const [pick, setPick] = useState('');
  const targets = form.values.targets;
  const move = (i, step) => {
    const next = [...targets];
    [next[i], next[i + step]] = [next[i + step], next[i]];
    form.set('targets', next);
  };
  const add = () => {
    if (pick && !targets.includes(pick)) form.set('targets', [...targets, pick]);
    setPick('');
  };
  const free = names.filter((n) => !targets.includes(n));
  const error = form.errors.targets;
  const id = form.id('targets');
  return html`<fieldset class=${`targets form-field${error ? ' invalid' : ''}`}>
    <legend>Targets, in order</legend>
    <ol class="target-list" data-testid="targets">
      ${targets.map((t, i) => html`<li key=${t} data-testid="target">
        <span class="target-name">${t}</span>
        <button type="button" class="icon-button" aria-label=${`Move ${t} up`} title="Up"
          disabled=${i === 0} data-testid="target-up" onClick=${() => move(i, -1)}>↑</button>
        <button type="button" class="icon-button" aria-label=${`Move ${t} down`} title="Down"
          disabled=${i === targets.length - 1} data-testid="target-down"
          onClick=${() => move(i, 1)}>↓</button>
        <button type="button" class="icon-button" aria-label=${`Remove ${t}`} title="Remove"
          data-testid="target-remove"
          onClick=${() => form.set('targets', targets.filter((x) => x !== t))}>✕</button>
      </li>`)}
    </ol>
    <div class="inline-add">
      <label class="sr-only" for=${id}>Model to add</label>
      <select id=${id} value=${pick} data-testid="target-pick" aria-invalid=${error ? 'true' : undefined}
        aria-describedby=${`${id}-error`} onChange=${(e) => setPick(e.target.value)}>
        <option value="">Pick a model…</option>
        ${free.map((n) => html`<option value=${n}>${n}</option>`)}
      </select>
      <button type="button" data-testid="target-add" disabled=${!pick} onClick=${add}>Add</button>
    </div>
    <small id=${`${id}-error`} class="field-error" role=${error ? 'alert' : undefined}
      data-testid="error-targets">${error ?? ''}</small>
  </fieldset>`;
}

function RouterForm({ router, names, onSaved, onCancel }) {
  const creating = !router;
  const form = useForm({ alias: router?.alias ?? '', targets: router?.targets ?? [],
    strategy: router?.strategy ?? 'fallback' }, (v) => validate(v, creating));
  const save = form.submit(async (v) => {
    const body = { targets: v.targets, strategy: v.strategy };
    const saved = creating
      ? await api('/bodhi/v1/models/router', { method: 'POST',
        body: { alias: v.alias.trim(), ...body } })
      : await api(`/bodhi/v1/models/router/${encodeURIComponent(router.alias)}`,
        { method: 'PUT', body });
    onSaved(saved);
  });
  return html`<section class="card" aria-labelledby="router-form-title" data-testid="router-form">
    <h2 id="router-form-title">${creating ? 'Add a router alias' : `Change ${router.alias}`}</h2>
    <form onSubmit=${save} noValidate>
      <div class="form-grid">
        ${creating ? html`<${Field} form=${form} name="alias" label="Alias"
          hint="The model name clients ask for." />` : null}
        <${Field} form=${form} name="strategy" label="Strategy" as="select" options=${STRATEGIES} />
      </div>
      <${TargetList} form=${form} names=${names} />
      <${FormError} form=${form} />
      <div class="form-actions">
        <button type="submit" class="primary" data-testid="router-save"
          disabled=${form.busy}>${creating ? 'Add' : 'Save'}</button>
        <button type="button" data-testid="router-cancel" onClick=${onCancel}>Cancel</button>
      </div>
    </form>
  </section>`;
}

function Table({ routers, onEdit, onDelete }) {
  if (!routers.length) {
    return html`<p class="muted" data-testid="routers-empty">No router aliases yet.</p>`;
  }
  return html`<div class="table-wrap"><table class="data stack" data-testid="routers-table">
    <caption class="sr-only">Router aliases</caption>
    <thead><tr><th scope="col">Alias</th><th scope="col">Targets</th>
      <th scope="col">Strategy</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${routers.map((r) => html`<tr key=${r.alias} data-testid="router-row"
        data-alias=${r.alias}>
      <td data-label="Alias"><strong>${r.alias}</strong></td>
      <td data-label="Targets" data-testid="router-targets">${r.targets.join(' → ')}</td>
      <td data-label="Strategy">${r.strategy === 'round_robin' ? 'round robin' : 'fallback'}</td>
      <td class="actions">
        <button type="button" data-testid="router-edit" aria-label=${`Edit ${r.alias}`}
          onClick=${() => onEdit(r)}>Edit</button>
        <${ConfirmButton} label="Delete" testid="router-delete" question=${`Delete ${r.alias}?`}
          onConfirm=${() => onDelete(r)} />
      </td></tr>`)}</tbody>
  </table></div>`;
}

// Targets: the models this user may use, routers left out (a router cannot point at one).
async function loadAll() {
  const [routers, models] = await Promise.all([allPages('/bodhi/v1/models/router'),
    allPages('/bodhi/v1/models')]);
  return { routers, names: models.filter((m) => m.source !== 'router').map((m) => m.alias) };
}

function Manage() {
  const state = useLoad(loadAll, []);
  const [editing, setEditing] = useState(null);   // null, 'new' or a router
  const notice = useNotice();
  useEvents(['models.changed'], () => state.reload());
  const saved = (router) => {
    setEditing(null);
    notice.show(`Saved ${router.alias}.`);
    state.reload();
  };
  const remove = async (router) => {
    await api(`/bodhi/v1/models/router/${encodeURIComponent(router.alias)}`, { method: 'DELETE' });
    notice.show(`Deleted ${router.alias}.`);
    state.reload();
  };
  return html`<div class="remote-tab" data-testid="routers">
    <div class="remote-head">
      <p class="muted">One model name over several models: if one fails (a limit, an error, out
        of reach), the next answers.</p>
      ${editing ? null : html`<button type="button" class="primary" data-testid="router-new"
        onClick=${() => setEditing('new')}>Add router alias</button>`}
    </div>
    <${notice.Notice} />
    ${editing && state.data ? html`<${RouterForm} key=${editing === 'new' ? 'new' : editing.alias}
      router=${editing === 'new' ? null : editing} names=${state.data.names} onSaved=${saved}
      onCancel=${() => setEditing(null)} />` : null}
    <${LoadState} state=${state} what="the router aliases" />
    ${state.data ? html`<${Table} routers=${state.data.routers} onEdit=${setEditing}
      onDelete=${remove} />` : null}
  </div>`;
}

// Router aliases need the power-user role (the API refuses them below).
export default function Routers({ session }) {
  return allows(session.user.role, 'resource_power_user') ? html`<${Manage} />`
    : html`<p class="muted" data-testid="routers-role">Router aliases are managed by power
      users and above; the ones you may use are in the chat's model list.</p>`;
}
