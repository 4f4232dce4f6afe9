// Models → Files: the GGUF files in the Hugging Face cache with their size and what their
// GGUF header says (architecture, context length, chat template, quantisation, parameters),
// the aliases that use each file, and delete (power users; a file a loaded model is using is
// refused by the server). A finished download or an alias change shows up live.
import { html, useState } from '../lib.js';
import { allPages, api } from '../api.js';
import { useEvents } from '../events.js';
import { allows } from '../session.js';
import { ConfirmButton, formatBytes, LoadState, useLoad, useNotice } from '../widgets.js';
import { aliasesByFile, fileKey, localAliases, useEventReload } from './common.js';

async function loadFiles() {
  const [files, aliases] = await Promise.all([allPages('/bodhi/v1/models/files'),
    localAliases().catch(() => [])]);
  const used = aliasesByFile(aliases);
  return files.map((file) => ({ ...file, key: fileKey(file.repo, file.filename),
    aliases: used.get(fileKey(file.repo, file.filename)) ?? [] }));
}

function Details({ file, id }) {
  const rows = [
    ['Repository', file.repo], ['File', file.filename], ['Snapshot', file.snapshot],
    ['Size', `${formatBytes(file.size)} (${file.size.toLocaleString()} bytes)`],
    ['Architecture', file.architecture ?? '—'], ['Parameters', file.parameters ?? '—'],
    ['Quantisation', file.quantization ?? '—'],
    ['Context length', file.context_length?.toLocaleString() ?? '—'],
    ['Chat template', file.chat_template ? 'yes' : 'no'],
    ['Used by', file.aliases.join(', ') || 'no alias but its own'],
  ];
  return html`<tr class="details-row" id=${id}><td colspan="7">
    <dl class="details" data-testid="file-details">
      ${rows.map(([term, value]) => html`<div key=${term}><dt>${term}</dt><dd>${value}</dd></div>`)}
      ${file.error ? html`<div><dt>Problem</dt><dd class="error">${file.error}</dd></div>` : null}
    </dl></td></tr>`;
}

function FileRow({ file, index, canEdit, onDelete }) {
  const [open, setOpen] = useState(false);
  const id = `file-details-${index}`;
  return html`<tr data-testid="file-row" data-file=${file.key}>
      <td data-label="File"><button type="button" class="link-button" aria-expanded=${open}
        aria-controls=${id} data-testid="file-toggle" onClick=${() => setOpen(!open)}>
        <span aria-hidden="true">${open ? '▾' : '▸'}</span> ${file.key}</button>
        ${file.error ? html` <span class="badge bad">unreadable</span>` : null}</td>
      <td data-label="Size" class="size" data-testid="file-size">${formatBytes(file.size)}</td>
      <td data-label="Architecture">${file.architecture ?? '—'}</td>
      <td data-label="Quantisation">${file.quantization ?? '—'}</td>
      <td data-label="Context">${file.context_length?.toLocaleString() ?? '—'}</td>
      <td data-label="Used by" data-testid="file-aliases">${file.aliases.join(', ') || '—'}</td>
      <td class="actions">${canEdit ? html`<${ConfirmButton} label="Delete" testid="file-delete"
        question=${`Delete ${file.filename}?`} onConfirm=${onDelete} />` : null}</td>
    </tr>
    ${open ? html`<${Details} file=${file} id=${id} />` : null}`;
}

export default function Files({ session }) {
  const canEdit = allows(session.user.role, 'resource_power_user');
  const files = useLoad(loadFiles);
  const [problem, setProblem] = useState(null);
  const notice = useNotice();
  useEventReload(['models.changed'], files.reload);
  useEvents(['download.updated'], ({ data }) => {
    if (data.status === 'completed') files.reload();
  });
  const remove = (file) => async () => {
    setProblem(null);
    try {
      const query = new URLSearchParams({ repo: file.repo, filename: file.filename });
      await api(`/bodhi/v1/models/files?${query}`, { method: 'DELETE' });
      notice.show(`Deleted ${file.key}.`);
      files.reload();
    } catch (error) {
      setProblem(`${file.key}: ${error.message}`);
    }
  };
  const list = files.data ?? [];
  const total = list.reduce((sum, f) => sum + f.size, 0);
  return html`<div class="tab-body" data-testid="files-tab">
    <${LoadState} state=${files} what="the model files" />
    ${files.data ? html`<section class="card" aria-labelledby="files-title">
      <h2 id="files-title">Model files</h2>
      <${notice.Notice} />
      ${problem ? html`<p class="error" role="alert" data-testid="file-problem">${problem}</p>`
        : null}
      <p class="hint muted" data-testid="files-total">${list.length} file${list.length === 1
        ? '' : 's'}, ${formatBytes(total)} in the Hugging Face cache. The built-in model is not
        listed here.</p>
      ${list.length === 0 ? html`<p class="muted">No files yet: get one on the Downloads
        tab.</p>` : html`<div class="table-wrap"><table class="data stack">
        <thead><tr><th scope="col">File</th><th scope="col">Size</th>
          <th scope="col">Architecture</th><th scope="col">Quantisation</th>
          <th scope="col">Context</th><th scope="col">Used by</th>
          <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${list.map((file, index) => html`<${FileRow} key=${file.key} file=${file}
          index=${index} canEdit=${canEdit} onDelete=${remove(file)} />`)}</tbody>
      </table></div>`}</section>` : null}
  </div>`;
}
