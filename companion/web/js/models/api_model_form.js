// The form that adds or changes an API model record (a remote provider): format, base URL,
// write-only key, the models it offers (fetched from the provider or typed), prefix, extra
// headers and body as JSON, and a Test that sends one short prompt through the unsaved fields.
//
// The key is write-only: the form never receives it, an edit that leaves the key box empty keeps
// the stored one, and "Remove the stored key" sends `api_key: null`. After saving, the form is
// closed and its values dropped, so the key is nowhere in the page.
import { api } from '../api.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { html, useRef, useState } from '../lib.js';

export const FORMATS = [
  { value: 'openai', label: 'OpenAI or compatible' },
  { value: 'anthropic', label: 'Anthropic' },
  { value: 'gemini', label: 'Google Gemini' },
];
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_PATTERN = /^[^\s\x00-\x1f]{1,200}$/;

function initialValues(record) {
  return {
    id: record?.id ?? '', api_format: record?.api_format ?? 'openai',
    base_url: record?.base_url ?? '', api_key: '', clear_key: false,
    models: record?.models ?? [], prefix: record?.prefix ?? '',
    forward_all_with_prefix: record?.forward_all_with_prefix ?? false,
    extra_headers: record && Object.keys(record.extra_headers).length
      ? JSON.stringify(record.extra_headers, null, 2) : '',
    extra_body: record && Object.keys(record.extra_body).length
      ? JSON.stringify(record.extra_body, null, 2) : '',
  };
}

/** The JSON object in `text` (empty: {}), or throws a message. */
function jsonObject(text, { strings = false } = {}) {
  if (!String(text).trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`Not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('Enter a JSON object, e.g. {"name": "value"}.');
  }
  if (strings && Object.values(value).some((v) => typeof v !== 'string')) {
    throw new Error('Each header value must be a string.');
  }
  return value;
}

function jsonProblem(text, options) {
  try {
    jsonObject(text, options);
    return null;
  } catch (error) {
    return error.message;
  }
}

// What each action needs: Fetch and Test only the connection, Save the whole record.
function validate(purpose, v, creating) {
  const errors = {
    base_url: check.required(v.base_url, 'The base URL') ?? check.url(v.base_url),
    extra_headers: jsonProblem(v.extra_headers, { strings: true }),
  };
  if (purpose === 'test') {
    errors.extra_body = jsonProblem(v.extra_body);
    errors.test_model = v.test_model ? null : 'Pick a model to test.';
  }
  if (purpose !== 'save') return errors;
  return {
    id: creating && v.id && !ID_PATTERN.test(v.id)
      ? 'Letters, digits, ".", "_" and "-" (up to 64), starting with a letter or digit.' : null,
    ...errors,
    models: v.models.length || v.forward_all_with_prefix ? null
      : 'Pick or type at least one model (or forward every name under a prefix).',
    prefix: (v.forward_all_with_prefix && !v.prefix.trim()
      ? 'Forwarding every name needs a prefix.' : null)
      ?? (v.prefix && /\s/.test(v.prefix) ? 'A prefix has no spaces.' : null),
    extra_body: jsonProblem(v.extra_body),
  };
}

/** The record's fields as the API takes them; `key` decides what is said about the key. */
function recordBody(v, record) {
  const body = {
    api_format: v.api_format, base_url: v.base_url.trim(), models: v.models,
    prefix: v.prefix.trim() || null, forward_all_with_prefix: v.forward_all_with_prefix,
    extra_headers: jsonObject(v.extra_headers, { strings: true }),
    extra_body: jsonObject(v.extra_body),
  };
  if (!record && v.id.trim()) body.id = v.id.trim();
  if (record && v.clear_key) body.api_key = null;
  else if (v.api_key) body.api_key = v.api_key;
  return body;
}

/** What Fetch and Test send: the fields as typed, and when editing the record's id too, so
 * the companion uses the stored key unless a new one is typed (or the key is being removed). */
function connection(v, record) {
  const fields = { api_format: v.api_format, base_url: v.base_url.trim(),
    api_key: (!v.clear_key && v.api_key) || null,
    extra_headers: jsonObject(v.extra_headers, { strings: true }) };
  return record && !v.clear_key ? { id: record.id, ...fields } : fields;
}

function ModelPicker({ form, fetched }) {
  const [typed, setTyped] = useState('');
  const [problem, setProblem] = useState(null);
  const chosen = form.values.models;
  const names = [...new Set([...fetched, ...chosen])];
  const toggle = (name, on) => form.set('models', on ? [...chosen, name]
    : chosen.filter((m) => m !== name));
  const add = () => {
    const name = typed.trim();
    if (!NAME_PATTERN.test(name)) {
      setProblem('A model name is 1 to 200 characters, no spaces.');
      return;
    }
    if (!chosen.includes(name)) form.set('models', [...chosen, name]);
    setTyped('');
    setProblem(null);
  };
  const keys = (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      add();
    }
  };
  const error = form.errors.models ?? problem;
  const id = form.id('models');
  return html`<fieldset class=${`model-picker form-field${error ? ' invalid' : ''}`}
      data-testid="models-picker">
    <legend>Models</legend>
    ${names.length ? html`<ul class="choices" data-testid="model-choices">
      ${names.map((name) => html`<li key=${name}><label>
        <input type="checkbox" checked=${chosen.includes(name)} data-testid="model-choice"
          value=${name} onChange=${(e) => toggle(name, e.target.checked)} /> ${name}</label></li>`)}
    </ul>` : html`<p class="muted">None yet: fetch them from the provider, or type one.</p>`}
    <div class="inline-add">
      <label class="sr-only" for=${id}>Add a model by name</label>
      <input id=${id} value=${typed} placeholder="Add a model by name" data-testid="model-add-input"
        aria-invalid=${error ? 'true' : undefined} aria-describedby=${`${id}-error`}
        onInput=${(e) => setTyped(e.target.value)} onKeyDown=${keys} />
      <button type="button" data-testid="model-add" onClick=${add}>Add</button>
    </div>
    <small id=${`${id}-error`} class="field-error" role=${error ? 'alert' : undefined}
      data-testid="error-models">${error ?? ''}</small>
  </fieldset>`;
}

function TestResult({ result }) {
  if (!result) return null;
  return result.ok
    ? html`<p class="test-result" role="status" data-testid="test-result">
        <span class="badge ok">Works</span> The model answered: <q>${result.reply}</q></p>`
    : html`<p class="test-result error" role="alert" data-testid="test-error">
        <span class="badge bad">Failed</span> ${result.error}</p>`;
}

function KeyFields({ form, record }) {
  const hint = record?.has_api_key
    ? `Stored (${record.api_key_hint ?? 'hidden'}). Leave empty to keep it.`
    : 'Sent to the provider only; never shown again after saving.';
  return html`
    <${Field} form=${form} name="api_key" label="API key" type="password" autocomplete="off"
      hint=${hint} disabled=${form.values.clear_key} />
    ${record?.has_api_key ? html`<${Field} form=${form} name="clear_key" as="checkbox"
      label="Remove the stored key" />` : null}`;
}

function JsonFields({ form }) {
  return html`<div class="form-grid">
    <${Field} form=${form} name="extra_headers" label="Extra headers (JSON)" as="textarea"
      rows="3" placeholder='{"OpenAI-Organization": "org-…"}'
      hint="Sent with every call and shown in the list: put secrets in the key." />
    <${Field} form=${form} name="extra_body" label="Extra body fields (JSON)" as="textarea"
      rows="3" placeholder='{"service_tier": "auto"}'
      hint="Added to each request that does not set them itself." />
  </div>`;
}

/** `record`: the record to change, or null to add one. `onSaved(record)`, `onCancel()`. */
export function ApiModelForm({ record, onSaved, onCancel }) {
  const creating = !record;
  const purpose = useRef('save');
  const form = useForm({ ...initialValues(record), test_model: '' },
    (v) => validate(purpose.current, v, creating));
  const [fetched, setFetched] = useState([]);
  const [fetchNote, setFetchNote] = useState(null);
  const [result, setResult] = useState(null);
  const v = form.values;
  const run = (what, handler) => (event) => {
    purpose.current = what;
    return form.submit(handler)(event);
  };
  // Fetch and Test show the provider's refusal by their button; a field error goes to its field.
  const reach = async (call, show) => {
    try {
      show(await call());
    } catch (error) {
      if (error?.param && error.param !== 'model') throw error;
      show(null, error);
    }
  };
  const fetchModels = run('fetch', () => reach(
    () => api('/bodhi/v1/models/api/fetch-models', { method: 'POST', body: connection(v, record) }),
    (reply, error) => {
      setFetched(reply?.models ?? []);
      setFetchNote(error ? { bad: true, text: `Could not fetch: ${error.message}` }
        : { text: `${reply.models.length} models offered: tick the ones to expose.` });
    }));
  const test = run('test', () => reach(
    () => api('/bodhi/v1/models/api/test', { method: 'POST',
      body: { ...connection(v, record), extra_body: jsonObject(v.extra_body),
        model: v.test_model } }),
    (reply, error) => setResult(error ? { ok: false, error: error.message }
      : { ok: true, reply: reply.reply })));
  const save = run('save', async () => {
    const body = recordBody(v, record);
    const saved = await api(creating ? '/bodhi/v1/models/api'
      : `/bodhi/v1/models/api/${encodeURIComponent(record.id)}`,
    { method: creating ? 'POST' : 'PUT', body });
    form.reset({ ...initialValues(null), test_model: '' });
    onSaved(saved);
  });
  const testChoices = v.models.length ? v.models : fetched;
  return html`<section class="card" aria-labelledby="api-form-title" data-testid="api-model-form">
    <h2 id="api-form-title">${creating ? 'Add an API model' : `Change ${record.id}`}</h2>
    <form onSubmit=${save} noValidate autocomplete="off">
      <div class="form-grid">
        ${creating ? html`<${Field} form=${form} name="id" label="Id (optional)"
          hint="Names the record; a random one when empty." />` : null}
        <${Field} form=${form} name="api_format" label="API format" as="select" options=${FORMATS}
          hint="OpenAI's also fits Groq, OpenRouter, vLLM, llama.cpp, another companion." />
        <${Field} form=${form} name="base_url" label="Base URL" type="url" inputmode="url"
          placeholder="https://api.openai.com/v1" hint="Up to the version path, no key in it." />
        <${KeyFields} form=${form} record=${record} />
      </div>
      <div class="form-actions">
        <button type="button" data-testid="fetch-models" disabled=${form.busy}
          onClick=${fetchModels}>Fetch models</button>
        <span class=${fetchNote?.bad ? 'error' : 'muted'} role="status"
          data-testid="fetch-note">${fetchNote?.text ?? ''}</span>
      </div>
      <${ModelPicker} form=${form} fetched=${fetched} />
      <div class="form-grid">
        <${Field} form=${form} name="prefix" label="Prefix (optional)" placeholder="openai/"
          hint="Clients ask for prefix + model; the provider gets the model." />
        <${Field} form=${form} name="forward_all_with_prefix" as="checkbox"
          label="Forward every name that starts with the prefix" />
      </div>
      <${JsonFields} form=${form} />
      <div class="form-actions test-row">
        <${Field} form=${form} name="test_model" label="Model to test" as="select"
          options=${[{ value: '', label: 'Pick a model' }, ...testChoices]} />
        <button type="button" data-testid="test-model" disabled=${form.busy}
          onClick=${test}>Test</button>
      </div>
      <${TestResult} result=${result} />
      <${FormError} form=${form} />
      <div class="form-actions">
        <button type="submit" class="primary" data-testid="api-model-save"
          disabled=${form.busy}>${creating ? 'Add' : 'Save'}</button>
        <button type="button" data-testid="api-model-cancel" onClick=${onCancel}>Cancel</button>
      </div>
    </form>
  </section>`;
}
