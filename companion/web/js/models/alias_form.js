// The alias form (Models → Aliases): the name, the GGUF file (picked from the local files or
// typed), request defaults as fields (`request_params`: what a chat request gets unless it says
// otherwise) and llama-server flags (`context_params`). An alias's settings that have no field
// of their own are kept: other request defaults as JSON, other flags one per line.
import { html, useEffect } from '../lib.js';
import { api } from '../api.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { formatBytes } from '../widgets.js';
import { fileKey } from './common.js';

const ALIAS_RULE = /^[^\s/\\.\x00-\x1f\x7f][^\s\\\x00-\x1f\x7f]*$/;
const CTX_FLAGS = ['-c', '--ctx-size'];
const PARALLEL_FLAGS = ['-np', '--parallel'];

// The request defaults with a field each; ranges as the OpenAI API and llama.cpp take them.
export const REQUEST_FIELDS = [
  { name: 'temperature', label: 'Temperature', hint: '0 to 2; lower is steadier.', min: 0, max: 2 },
  { name: 'top_p', label: 'Top P', hint: '0 to 1.', min: 0, max: 1 },
  { name: 'top_k', label: 'Top K', hint: 'Whole number; 0 turns it off.', min: 0, max: 1000,
    integer: true },
  { name: 'min_p', label: 'Min P', hint: '0 to 1.', min: 0, max: 1 },
  { name: 'max_tokens', label: 'Max tokens', hint: 'Longest reply, in tokens.', min: 1,
    max: 1000000, integer: true },
  { name: 'seed', label: 'Seed', hint: 'Whole number, for repeatable replies.', min: -1,
    max: 4294967295, integer: true },
  { name: 'presence_penalty', label: 'Presence penalty', hint: '-2 to 2.', min: -2, max: 2 },
  { name: 'frequency_penalty', label: 'Frequency penalty', hint: '-2 to 2.', min: -2, max: 2 },
];
const NUMBER_NAMES = REQUEST_FIELDS.map((f) => f.name);

function flagValue(tokens, names) {
  if (tokens.length === 2 && names.includes(tokens[0])) return tokens[1];
  const [flag, value] = tokens[0].split('=', 2);
  return tokens.length === 1 && value !== undefined && names.includes(flag) ? value : null;
}

/** An alias (or nothing, for a new one) as the form's values. */
export function toValues(alias) {
  const params = { ...(alias?.request_params ?? {}) };
  const values = { alias: alias?.alias ?? '', file: '', repo: alias?.repo ?? '',
    filename: alias?.filename ?? '', snapshot: alias?.snapshot ?? 'main',
    stop: [].concat(params.stop ?? []).join('\n'), ctx_size: '', parallel: '' };
  delete params.stop;
  for (const name of NUMBER_NAMES) {
    values[name] = params[name] === undefined ? '' : String(params[name]);
    delete params[name];
  }
  values.request_params = Object.keys(params).length ? JSON.stringify(params, null, 2) : '';
  const extra = [];
  for (const entry of alias?.context_params ?? []) {
    const tokens = entry.trim().split(/\s+/);
    const ctx = flagValue(tokens, CTX_FLAGS);
    const parallel = flagValue(tokens, PARALLEL_FLAGS);
    if (ctx !== null && !values.ctx_size) values.ctx_size = ctx;
    else if (parallel !== null && !values.parallel) values.parallel = parallel;
    else extra.push(entry);
  }
  values.context_params = extra.join('\n');
  return values;
}

function lines(text) {
  return String(text ?? '').split('\n').map((line) => line.trim()).filter(Boolean);
}

/** The form's values as the alias API's body. */
export function toBody(values) {
  const params = values.request_params.trim() ? JSON.parse(values.request_params) : {};
  for (const name of NUMBER_NAMES) {
    if (String(values[name]).trim() !== '') params[name] = Number(values[name]);
  }
  const stop = lines(values.stop);
  if (stop.length) params.stop = stop;
  const flags = [];
  if (String(values.ctx_size).trim()) flags.push(`--ctx-size ${Number(values.ctx_size)}`);
  if (String(values.parallel).trim()) flags.push(`--parallel ${Number(values.parallel)}`);
  return { alias: values.alias.trim(), repo: values.repo.trim(), filename: values.filename.trim(),
    snapshot: values.snapshot || 'main', request_params: params,
    context_params: [...flags, ...lines(values.context_params)] };
}

export function aliasNameProblem(name) {
  const value = String(name ?? '').trim();
  if (!value) return 'The alias name is required.';
  if (value.length > 200) return 'Use at most 200 characters.';
  if (!ALIAS_RULE.test(value)) {
    return 'No spaces or backslashes, and it may not start with "/" or ".".';
  }
  return null;
}

function jsonProblem(text) {
  if (!text.trim()) return null;
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? null
      : 'Write a JSON object, e.g. {"repeat_penalty": 1.1}.';
  } catch {
    return 'This is not valid JSON.';
  }
}

function validate(values) {
  const problems = {
    alias: aliasNameProblem(values.alias),
    repo: check.required(values.repo, 'The repository')
      ?? (/^[^/\s]+\/[^/\s]+$/.test(values.repo.trim()) ? null : 'Write it as owner/name.'),
    filename: check.required(values.filename, 'The file'),
    ctx_size: check.number(values.ctx_size, { min: 0, max: 1048576, integer: true }),
    parallel: check.number(values.parallel, { min: 1, max: 256, integer: true }),
    request_params: jsonProblem(values.request_params),
    context_params: lines(values.context_params).some((line) => !line.startsWith('-'))
      ? 'Each line starts with a flag, e.g. --flash-attn on.' : null,
    stop: lines(values.stop).length > 4 ? 'At most 4 stop sequences.' : null,
  };
  for (const field of REQUEST_FIELDS) problems[field.name] = check.number(values[field.name], field);
  return problems;
}

export function aliasPath(name) {
  return `/bodhi/v1/models/alias/${name.split('/').map(encodeURIComponent).join('/')}`;
}

function FileFields({ form, files }) {
  const options = [{ value: '', label: 'Type the repository and file below' },
    ...files.map((f) => ({ value: fileKey(f.repo, f.filename),
      label: `${fileKey(f.repo, f.filename)} (${formatBytes(f.size)})` }))];
  useEffect(() => {
    const picked = files.find((f) => fileKey(f.repo, f.filename) === form.values.file);
    if (picked) form.setValues((old) => ({ ...old, repo: picked.repo, filename: picked.filename }));
  }, [form.values.file]);
  return html`<div class="form-grid">
    <${Field} form=${form} name="file" label="Local file" as="select" options=${options}
      hint="A GGUF file in the model cache." />
    <${Field} form=${form} name="repo" label="Repository" hint="owner/name on Hugging Face"
      autocomplete="off" />
    <${Field} form=${form} name="filename" label="File" hint="e.g. model-Q4_K_M.gguf"
      autocomplete="off" />
  </div>`;
}

function RequestFields({ form }) {
  return html`<fieldset class="alias-set"><legend>Request defaults</legend>
    <p class="hint muted">Used when a request does not set them.</p>
    <div class="form-grid numbers">
      ${REQUEST_FIELDS.map((f) => html`<${Field} key=${f.name} form=${form} name=${f.name}
        label=${f.label} hint=${f.hint} inputmode="decimal" autocomplete="off" />`)}
    </div>
    <div class="form-grid">
      <${Field} form=${form} name="stop" label="Stop sequences" as="textarea" rows="2"
        hint="One per line, up to 4." />
      <${Field} form=${form} name="request_params" label="Other defaults (JSON)" as="textarea"
        rows="2" hint='e.g. {"repeat_penalty": 1.1}' />
    </div></fieldset>`;
}

function LaunchFields({ form }) {
  return html`<fieldset class="alias-set"><legend>llama-server</legend>
    <p class="hint muted">How the model is started; a change applies at its next load.</p>
    <div class="form-grid numbers">
      <${Field} form=${form} name="ctx_size" label="Context size" inputmode="numeric"
        hint="Tokens (--ctx-size); empty: the default." autocomplete="off" />
      <${Field} form=${form} name="parallel" label="Parallel slots" inputmode="numeric"
        hint="Requests served at once (--parallel)." autocomplete="off" />
    </div>
    <div class="form-grid">
      <${Field} form=${form} name="context_params" label="Other flags" as="textarea" rows="3"
        hint="One per line, e.g. --flash-attn on" />
    </div></fieldset>`;
}

/** Create (no `alias`) or edit a user alias. Calls `onSaved(saved)` with the server's alias. */
function initialValues(alias, files) {
  const values = toValues(alias);
  const key = fileKey(values.repo, values.filename);
  if (files.some((f) => fileKey(f.repo, f.filename) === key)) values.file = key;
  return values;
}

export function AliasForm({ alias, files, onSaved, onCancel }) {
  const form = useForm(initialValues(alias, files), validate);
  const save = form.submit(async (values) => {
    const body = toBody(values);
    const saved = alias
      ? await api(aliasPath(alias.alias), { method: 'PUT', body })
      : await api('/bodhi/v1/models/alias', { method: 'POST', body });
    onSaved(saved);
  });
  const title = alias ? `Edit ${alias.alias}` : 'New alias';
  return html`<section class="card" aria-labelledby="alias-form-title" data-testid="alias-form">
    <h2 id="alias-form-title">${title}</h2>
    <form onSubmit=${save} noValidate>
      <div class="form-grid">
        <${Field} form=${form} name="alias" label="Alias" autocomplete="off"
          hint="The name requests use as their model." />
      </div>
      <${FileFields} form=${form} files=${files} />
      <${RequestFields} form=${form} />
      <${LaunchFields} form=${form} />
      <${FormError} form=${form} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled=${form.busy}
          data-testid="alias-save">${alias ? 'Save' : 'Create alias'}</button>
        <button type="button" onClick=${onCancel} data-testid="alias-cancel">Cancel</button>
      </div>
    </form></section>`;
}

/** Copy an alias (any source) to a new user alias. */
export function CopyForm({ alias, onSaved, onCancel }) {
  const form = useForm({ alias: `${alias.alias.split('/').pop().replace(/:/g, '-')}-copy` },
    (values) => ({ alias: aliasNameProblem(values.alias) }));
  const copy = form.submit(async (values) => {
    onSaved(await api(`${aliasPath(alias.alias)}/copy`, { method: 'POST',
      body: { alias: values.alias.trim() } }));
  });
  return html`<section class="card" aria-labelledby="copy-form-title" data-testid="copy-form">
    <h2 id="copy-form-title">Copy ${alias.alias}</h2>
    <form onSubmit=${copy} noValidate>
      <div class="form-grid">
        <${Field} form=${form} name="alias" label="New alias" autocomplete="off"
          hint="Same file and settings under a new name." />
      </div>
      <${FormError} form=${form} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled=${form.busy}
          data-testid="copy-save">Copy</button>
        <button type="button" onClick=${onCancel}>Cancel</button>
      </div>
    </form></section>`;
}
