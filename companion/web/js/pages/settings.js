// The Settings page (admins): every setting of the companion's one settings table with its
// effective value, default, where the value came from, and its help. A runtime-editable setting
// whose value is not pinned by the command line or the environment can be changed here (the
// edit is stored in the database and applies at once) and reset; the others say why not.
// The input follows the setting's metadata: a list for `choices`, a number box with `min`, a
// checkbox for booleans. The server stays the rule: its refusal is shown under the input.
import { api } from '../api.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { html, useEffect, useState } from '../lib.js';
import { ConfirmButton, LoadState, PageHead, useLoad, useNotice } from '../widgets.js';

const SOURCES = {
  command_line: 'command line', environment: 'environment', database: 'edited here',
  settings_file: 'settings.yaml', default: 'default',
};

function shown(value) {
  if (value === '' || value === null || value === undefined) return html`<span class="muted">(empty)</span>`;
  return html`<code>${String(value)}</code>`;
}

/** Why a setting cannot be edited here, or null when it can. */
function whyNot(setting) {
  const { metadata: meta, source } = setting;
  if (!meta.runtime_editable) {
    return `Needs a restart: set it with ${meta.flag}, ${meta.env} or in settings.yaml.`;
  }
  if (source === 'command_line') return `Set on the command line (${meta.flag}), which wins over an edit here.`;
  if (source === 'environment') return `Set in the environment (${meta.env}), which wins over an edit here.`;
  return null;
}

function initialValue(setting) {
  const { current_value: value, metadata: meta } = setting;
  if (meta.type === 'boolean') return Boolean(value);
  return meta.choices ? String(value).toLowerCase() : String(value ?? '');
}

function inputProps(meta) {
  if (meta.choices) return { as: 'select', options: meta.choices };
  if (meta.type === 'boolean') return { as: 'checkbox' };
  if (meta.type === 'number') {
    return { type: 'number', step: 1, min: meta.min, inputmode: 'numeric' };
  }
  return {};
}

function numberProblem(value, min) {
  const problem = check.required(value, 'A value') ?? check.number(value, { integer: true });
  if (problem || min === undefined || Number(value) >= min) return problem;
  return `Enter a whole number of at least ${min}.`;
}

function Editor({ setting, onSaved, onCancel }) {
  const meta = setting.metadata;
  const form = useForm({ value: initialValue(setting) }, (v) => ({
    value: meta.type === 'number' ? numberProblem(v.value, meta.min) : null,
  }));
  // Numbers go as typed: the server parses every value from text, and its answer is the rule.
  const save = form.submit(async (v) => onSaved(await api(
    `/bodhi/v1/settings/${encodeURIComponent(setting.key)}`,
    { method: 'PUT', body: { value: typeof v.value === 'string' ? v.value.trim() : v.value } })));
  useEffect(() => { document.getElementById(form.id('value'))?.focus(); }, []);
  const keys = (event) => { if (event.key === 'Escape') onCancel(); };
  return html`<form class="setting-edit" onSubmit=${save} onKeyDown=${keys} noValidate
      data-testid="setting-form">
    <${Field} form=${form} name="value"
      label=${html`New value<span class="sr-only"> for ${setting.key}</span>`}
      ...${inputProps(meta)} />
    <${FormError} form=${form} />
    <div class="form-actions">
      <button type="submit" class="primary" data-testid="setting-save"
        disabled=${form.busy}>Save</button>
      <button type="button" data-testid="setting-cancel" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function Actions({ setting, onEdit, onReset }) {
  const reason = whyNot(setting);
  if (reason) return html`<span class="muted why" data-testid="setting-why">${reason}</span>`;
  return html`<button type="button" data-testid="setting-edit" aria-label=${`Edit ${setting.key}`}
      onClick=${onEdit}>Edit</button>
    ${setting.source === 'database' ? html`<${ConfirmButton} label="Reset to default"
      testid="setting-reset" danger=${false} question=${`Drop the edit of ${setting.key}?`}
      onConfirm=${onReset} />` : null}`;
}

function Row({ setting, editing, onEdit, onDone, onReset }) {
  const meta = setting.metadata;
  return html`<tr data-testid="setting-row" data-key=${setting.key} data-source=${setting.source}>
    <th scope="row" data-label="Setting"><code class="key">${setting.key}</code>
      <p class="help">${meta.help}</p></th>
    <td data-label="Value" data-testid="setting-value">${editing
      ? html`<${Editor} setting=${setting} onSaved=${onDone} onCancel=${() => onDone(null)} />`
      : shown(setting.current_value)}</td>
    <td data-label="Default">${shown(setting.default_value)}</td>
    <td data-label="Source" data-testid="setting-source"><span class=${`badge${setting.source
      === 'database' ? ' ok' : ''}`}>${SOURCES[setting.source] ?? setting.source}</span></td>
    <td class="actions settings-actions">${editing ? null : html`<${Actions} setting=${setting}
      onEdit=${onEdit} onReset=${onReset} />`}</td>
  </tr>`;
}

function matches(setting, words) {
  const text = `${setting.key} ${setting.metadata.help} ${setting.metadata.flag}
    ${SOURCES[setting.source]}`.toLowerCase();
  return words.every((word) => text.includes(word));
}

export default function Settings() {
  const state = useLoad(() => api('/bodhi/v1/settings'), []);
  const [editing, setEditing] = useState(null);
  const [search, setSearch] = useState('');
  const notice = useNotice();
  const done = (saved) => {
    const key = editing;
    setEditing(null);
    // Keyboard users keep their place: back to the row's Edit button.
    requestAnimationFrame(() => document.querySelector(
      `[data-testid=setting-row][data-key="${key}"] [data-testid=setting-edit]`)?.focus());
    if (saved) notice.show(`${saved.key} is now ${saved.current_value}.`);
    state.reload();
  };
  const reset = async (setting) => {
    const saved = await api(`/bodhi/v1/settings/${encodeURIComponent(setting.key)}`,
      { method: 'DELETE' });
    notice.show(`${saved.key} is back to ${saved.current_value} (${SOURCES[saved.source]}).`);
    state.reload();
  };
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const shownRows = (state.data ?? []).filter((s) => matches(s, words));
  return html`<div class="page settings-page" data-testid="settings-page">
    <${PageHead} title="Settings">
      <label class="sr-only" for="settings-search">Search settings</label>
      <input id="settings-search" type="search" placeholder="Search settings" value=${search}
        data-testid="settings-search" onInput=${(e) => setSearch(e.target.value)} />
    <//>
    <div><p class="muted">Precedence: command line, then environment, then edits made here,
      then settings.yaml, then the default. Edits apply at once and survive a restart.</p>
      <${notice.Notice} /></div>
    <${LoadState} state=${state} what="the settings" />
    ${state.data ? html`<div class="table-wrap"><table class="data stack settings"
        data-testid="settings-table">
      <caption class="sr-only">Settings</caption>
      <thead><tr><th scope="col">Setting</th><th scope="col">Value</th><th scope="col">Default</th>
        <th scope="col">Source</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${shownRows.map((s) => html`<${Row} key=${s.key} setting=${s}
        editing=${editing === s.key} onEdit=${() => setEditing(s.key)} onDone=${done}
        onReset=${() => reset(s)} />`)}</tbody>
    </table></div>
    ${shownRows.length ? null : html`<p class="muted" data-testid="settings-none">No setting
      matches “${search}”.</p>`}` : null}
  </div>`;
}
