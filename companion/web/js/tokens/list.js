// The user's API tokens as a table: what each may do, whether it works, when it was made and
// last used; rename in place, deactivate / activate (PUT status) and delete (asked twice).
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { Field, FormError, check, useForm } from '../forms.js';
import { ConfirmButton, timeAgo } from '../widgets.js';
import { scopeLabel } from './scopes.js';

const path = (token) => `/bodhi/v1/tokens/${encodeURIComponent(token.id)}`;

function RenameForm({ token, onSaved, onCancel }) {
  const form = useForm({ name: token.name },
    (values) => ({ name: check.required(values.name, 'A name') }));
  const save = form.submit(async (values) => {
    await api(path(token), { method: 'PUT', body: { name: values.name.trim() } });
    onSaved(`Renamed to “${values.name.trim()}”.`);
  });
  return html`<form class="token-rename" onSubmit=${save} noValidate data-testid="rename-form">
    <${Field} form=${form} name="name" label=${`New name for ${token.name}`} autoFocus
      data-testid="rename-name" onKeyDown=${(e) => e.key === 'Escape' && onCancel()} />
    <${FormError} form=${form} />
    <div class="form-actions">
      <button type="submit" class="primary" disabled=${form.busy}
        data-testid="rename-save">Save</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function Actions({ token, onChanged, onFailed, onRename }) {
  const active = token.status === 'active';
  const act = (call, done) => async () => {
    try {
      await call();
      onChanged(done);
    } catch (error) {
      onFailed(error);
    }
  };
  const flip = act(() => api(path(token), { method: 'PUT',
    body: { status: active ? 'inactive' : 'active' } }),
  `${token.name} ${active ? 'deactivated' : 'activated'}.`);
  return html`<button type="button" data-testid="token-rename" onClick=${onRename}
      aria-label=${`Rename ${token.name}`}>Rename</button>
    <button type="button" data-testid=${active ? 'token-deactivate' : 'token-activate'}
      onClick=${flip}>${active ? 'Deactivate' : 'Activate'}</button>
    <${ConfirmButton} label="Delete" question=${`Delete ${token.name}?`} testid="token-delete"
      onConfirm=${act(() => api(path(token), { method: 'DELETE' }), `${token.name} deleted.`)} />`;
}

function Row({ token, onChanged, onFailed }) {
  const [renaming, setRenaming] = useState(false);
  const active = token.status === 'active';
  const models = token.models === null ? 'all models' : token.models.join(', ') || 'none';
  return html`<tr data-testid="token-row" data-name=${token.name} data-status=${token.status}>
    <td data-label="Name">${renaming ? html`<${RenameForm} token=${token}
      onCancel=${() => setRenaming(false)}
      onSaved=${(message) => { setRenaming(false); onChanged(message); }} />`
      : html`<strong>${token.name}</strong>`}</td>
    <td data-label="Scope">${scopeLabel(token.scopes)}</td>
    <td data-label="Models" data-testid="token-models">${models}</td>
    <td data-label="Status"><span class=${`badge ${active ? 'ok' : 'bad'}`}
      data-testid="token-status">${active ? 'active' : 'inactive'}</span></td>
    <td data-label="Created">${timeAgo(token.created_at)}</td>
    <td data-label="Last used" data-testid="token-last-used">${timeAgo(token.last_used_at)}</td>
    <td class="actions">${renaming ? null : html`<${Actions} token=${token}
      onChanged=${onChanged} onFailed=${onFailed} onRename=${() => setRenaming(true)} />`}</td>
  </tr>`;
}

/** The table; `onChanged(message)` after an edit, `onFailed(error)` when one was refused. */
export function TokenTable({ tokens, onChanged, onFailed }) {
  if (!tokens.length) {
    return html`<p class="muted" data-testid="tokens-empty">No tokens yet. Make one above to
      use the companion's API from a program or another app.</p>`;
  }
  return html`<div class="table-wrap"><table class="data stack" data-testid="tokens-table">
    <caption class="sr-only">Your API tokens</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Models</th>
      <th scope="col">Status</th><th scope="col">Created</th><th scope="col">Last used</th>
      <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${tokens.map((token) => html`<${Row} key=${token.id} token=${token}
      onChanged=${onChanged} onFailed=${onFailed} />`)}</tbody>
  </table></div>`;
}
