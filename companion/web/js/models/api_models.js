// The Models page's "API models" tab: the remote providers (API model records) with the model
// names each exposes, whether it holds a key (and the key's last characters, never the key),
// and, for power users and up, add / change (models/api_model_form.js) / delete. The list
// follows `models.changed`, so a record added elsewhere (the CLI, another tab) shows at once.
import { allPages, api } from '../api.js';
import { useEvents } from '../events.js';
import { html, useState } from '../lib.js';
import { allows } from '../session.js';
import { ConfirmButton, LoadState, useLoad, useNotice } from '../widgets.js';
import { ApiModelForm, FORMATS } from './api_model_form.js';

const formatName = (value) => FORMATS.find((f) => f.value === value)?.label ?? value;

function KeyCell({ record }) {
  return record.has_api_key
    ? html`<span class="badge ok">set</span> ${record.api_key_hint
      ? html`<code>${record.api_key_hint}</code>` : null}`
    : html`<span class="muted">none</span>`;
}

function Row({ record, canEdit, onEdit, onDelete }) {
  const exposed = record.models.map((m) => (record.prefix ?? '') + m);
  return html`<tr data-testid="api-model-row" data-id=${record.id}>
    <td data-label="Id"><strong>${record.id}</strong></td>
    <td data-label="Format">${formatName(record.api_format)}</td>
    <td data-label="Base URL" class="url"><code>${record.base_url}</code></td>
    <td data-label="Models" data-testid="api-model-names">${exposed.join(', ')}
      ${record.forward_all_with_prefix ? html`<div class="muted">and any
        <code>${record.prefix}…</code></div>` : null}</td>
    <td data-label="Key" data-testid="api-model-key"><${KeyCell} record=${record} /></td>
    ${canEdit ? html`<td class="actions">
      <button type="button" data-testid="api-model-edit" aria-label=${`Edit ${record.id}`}
        onClick=${() => onEdit(record)}>Edit</button>
      <${ConfirmButton} label="Delete" testid="api-model-delete"
        question=${`Delete ${record.id}?`} onConfirm=${() => onDelete(record)} />
    </td>` : null}
  </tr>`;
}

function Table({ records, canEdit, onEdit, onDelete }) {
  if (!records.length) {
    return html`<p class="muted" data-testid="api-models-empty">No API models yet.${canEdit
      ? ' Add one to use a remote provider\'s models like local ones.' : ''}</p>`;
  }
  return html`<div class="table-wrap"><table class="data stack" data-testid="api-models-table">
    <caption class="sr-only">API models</caption>
    <thead><tr><th scope="col">Id</th><th scope="col">Format</th><th scope="col">Base URL</th>
      <th scope="col">Models</th><th scope="col">Key</th>
      ${canEdit ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : null}</tr></thead>
    <tbody>${records.map((r) => html`<${Row} key=${r.id} record=${r} canEdit=${canEdit}
      onEdit=${onEdit} onDelete=${onDelete} />`)}</tbody>
  </table></div>`;
}

// The list needs the power-user role (the API refuses it below), so a lower role sees a note.
export default function ApiModels({ session }) {
  return allows(session.user.role, 'resource_power_user') ? html`<${Manage} />`
    : html`<p class="muted" data-testid="api-models-role">API models (remote providers) are
      managed by power users and above; the ones you may use are in the chat's model list.</p>`;
}

function Manage() {
  const state = useLoad(() => allPages('/bodhi/v1/models/api'), []);
  const [editing, setEditing] = useState(null);   // null, 'new' or a record
  const notice = useNotice();
  useEvents(['models.changed'], () => state.reload());
  const saved = (record) => {
    setEditing(null);
    notice.show(`Saved ${record.id}.`);
    state.reload();
  };
  const remove = async (record) => {
    await api(`/bodhi/v1/models/api/${encodeURIComponent(record.id)}`, { method: 'DELETE' });
    notice.show(`Deleted ${record.id}.`);
    state.reload();
  };
  return html`<div class="remote-tab" data-testid="api-models">
    <div class="remote-head">
      <p class="muted">Remote providers whose models clients use like local ones, in any of
        the companion's API formats.</p>
      ${editing ? null : html`<button type="button" class="primary" data-testid="api-model-new"
        onClick=${() => setEditing('new')}>Add API model</button>`}
    </div>
    <${notice.Notice} />
    ${editing ? html`<${ApiModelForm} key=${editing === 'new' ? 'new' : editing.id}
      record=${editing === 'new' ? null : editing} onSaved=${saved}
      onCancel=${() => setEditing(null)} />` : null}
    <${LoadState} state=${state} what="the API models" />
    ${state.data ? html`<${Table} records=${state.data} canEdit=${true}
      onEdit=${setEditing} onDelete=${remove} />` : null}
  </div>`;
}
