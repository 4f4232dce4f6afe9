// Models → Aliases: every alias over a local GGUF file. Your (user) aliases can be edited,
// copied and deleted by a power user or above; model-file and built-in aliases are read-only
// but can be copied into a user alias. The list follows `models.changed` events, so an alias
// made elsewhere (the API, a YAML file, another tab) appears without a reload.
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { allows } from '../session.js';
import { ConfirmButton, LoadState, useLoad, useNotice } from '../widgets.js';
import { AliasForm, aliasPath, CopyForm } from './alias_form.js';
import { fileKey, localAliases, settingsSummary, SOURCE_NAMES, useEventReload } from './common.js';

async function loadFiles() {
  try {
    return (await api('/bodhi/v1/models/files?page=1&page_size=100')).data;
  } catch {
    return []; // the picker is a help: the file can still be typed
  }
}

function AliasRow({ alias, canEdit, onEdit, onCopy, onDelete }) {
  const mine = alias.source === 'user';
  return html`<tr data-testid="alias-row" data-alias=${alias.alias} data-source=${alias.source}>
    <td data-label="Alias"><strong class="alias-name">${alias.alias}</strong>${' '}
      <span class=${`badge${mine ? ' ok' : ''}`}>${SOURCE_NAMES[alias.source]}</span></td>
    <td data-label="File" class="file-cell">${fileKey(alias.repo, alias.filename)}</td>
    <td data-label="Settings" class="settings-cell" data-testid="alias-settings">
      ${settingsSummary(alias) ? html`<code>${settingsSummary(alias)}</code>`
        : html`<span class="muted">defaults</span>`}</td>
    <td class="actions">${canEdit ? html`
      ${mine ? html`<button type="button" data-testid="alias-edit" onClick=${onEdit}
        aria-label=${`Edit ${alias.alias}`}>Edit</button>` : null}
      <button type="button" data-testid="alias-copy" onClick=${onCopy}
        aria-label=${`Copy ${alias.alias}`}>Copy</button>
      ${mine ? html`<${ConfirmButton} label="Delete" testid="alias-delete"
        question=${`Delete ${alias.alias}?`} onConfirm=${onDelete} />` : null}` : null}</td>
  </tr>`;
}

function AliasTable({ aliases, canEdit, act }) {
  if (aliases.length === 0) return html`<p class="muted">No aliases.</p>`;
  return html`<div class="table-wrap"><table class="data stack" data-testid="alias-table">
    <thead><tr><th scope="col">Alias</th><th scope="col">File</th><th scope="col">Settings</th>
      <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${aliases.map((alias) => html`<${AliasRow} key=${alias.alias} alias=${alias}
      canEdit=${canEdit} onEdit=${() => act('edit', alias)} onCopy=${() => act('copy', alias)}
      onDelete=${() => act('delete', alias)} />`)}</tbody></table></div>`;
}

export default function Aliases({ session }) {
  const canEdit = allows(session.user.role, 'resource_power_user');
  const aliases = useLoad(localAliases);
  const files = useLoad(loadFiles);
  const [open, setOpen] = useState(null); // {kind: 'new' | 'edit' | 'copy', alias}
  const [problem, setProblem] = useState(null);
  const notice = useNotice();
  useEventReload(['models.changed'], () => {
    aliases.reload();
    files.reload(); // a finished download is a new file to pick
  });
  const done = (message) => (saved) => {
    setOpen(null);
    notice.show(message(saved));
    aliases.reload();
  };
  const act = async (kind, alias) => {
    setProblem(null);
    if (kind !== 'delete') {
      setOpen({ kind, alias });
      return;
    }
    try {
      await api(aliasPath(alias.alias), { method: 'DELETE' });
      notice.show(`Deleted ${alias.alias}.`);
      aliases.reload();
    } catch (error) {
      setProblem(error.message);
    }
  };
  const list = aliases.data ?? [];
  const mine = list.filter((a) => a.source === 'user');
  const others = list.filter((a) => a.source !== 'user');
  return html`<div class="tab-body" data-testid="aliases-tab">
    ${canEdit && !open ? html`<div class="form-actions"><button type="button" class="primary"
      data-testid="alias-new" onClick=${() => setOpen({ kind: 'new' })}>New alias</button></div>`
      : null}
    ${open?.kind === 'copy' ? html`<${CopyForm} key=${`copy-${open.alias.alias}`}
      alias=${open.alias} onSaved=${done((a) => `Copied to ${a.alias}.`)}
      onCancel=${() => setOpen(null)} />` : null}
    ${open && open.kind !== 'copy' ? html`<${AliasForm} key=${open.alias?.alias ?? 'new'}
      alias=${open.kind === 'edit' ? open.alias : null} files=${files.data ?? []}
      onSaved=${done((a) => `Saved ${a.alias}.`)} onCancel=${() => setOpen(null)} />` : null}
    <${notice.Notice} />
    ${problem ? html`<p class="error" role="alert" data-testid="alias-problem">${problem}</p>`
      : null}
    <${LoadState} state=${aliases} what="the aliases" />
    ${aliases.data ? html`
      <section class="card" aria-labelledby="user-aliases"><h2 id="user-aliases">Your aliases</h2>
        <${AliasTable} aliases=${mine} canEdit=${canEdit} act=${act} /></section>
      <section class="card" aria-labelledby="other-aliases">
        <h2 id="other-aliases">Model files and built-in</h2>
        <p class="hint muted">Every downloaded file has an alias of its own (owner/repo:QUANT);
          copy one to give it your own settings.</p>
        <${AliasTable} aliases=${others} canEdit=${canEdit} act=${act} /></section>` : null}
  </div>`;
}
