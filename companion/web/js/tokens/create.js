// Making an API token: the form (name, scope up to the user's role, all models or some), and
// the new token's value, shown once. The value lives only in this component's state: it is
// never stored, so leaving the page or reloading it loses it for good (the companion keeps
// only a hash and cannot show it again).
import { html, useEffect, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { Field, FormError, check, useForm } from '../forms.js';
import { allows } from '../session.js';
import { CopyButton } from '../widgets.js';
import { MAX_NAME, SCOPES } from './scopes.js';

const EMPTY = { name: '', scope: SCOPES[0].value, all_models: true, models: [] };

/** The scopes `role` may give a token: a token never does more than its user. */
export function scopesFor(role) {
  return SCOPES.filter((scope) => allows(role, scope.role));
}

function validate(values) {
  return {
    name: check.required(values.name, 'A name'),
    models: values.all_models || values.models.length ? null
      : 'Pick at least one model, or allow all models.',
  };
}

function ModelPicker({ form, models }) {
  const id = form.id('models');
  const error = form.errors.models;
  const toggle = (name, on) => form.set('models', on ? [...form.values.models, name]
    : form.values.models.filter((m) => m !== name));
  return html`<fieldset class=${`form-field token-models${error ? ' invalid' : ''}`}
    aria-describedby=${`${id}-error`}>
    <legend>Models</legend>
    <label class="check-line"><input type="checkbox" data-testid="field-all_models"
      checked=${form.values.all_models}
      onChange=${(e) => form.set('all_models', e.target.checked)} /> All models, now and later</label>
    ${form.values.all_models ? null : html`<div class="model-choices" id=${id} tabindex="-1"
      data-testid="field-models">
      ${models.length ? models.map((name) => html`<label class="check-line">
        <input type="checkbox" value=${name} checked=${form.values.models.includes(name)}
          data-testid="model-choice" onChange=${(e) => toggle(name, e.target.checked)} />
        <code>${name}</code></label>`) : html`<p class="muted">No models yet.</p>`}
    </div>`}
    <small id=${`${id}-error`} class="field-error" role=${error ? 'alert' : undefined}
      data-testid="error-models">${error ?? ''}</small>
  </fieldset>`;
}

/** The value of a token just made, with the one chance to copy it. */
function ShownOnce({ made, onDone }) {
  // The form that had the focus is gone: keyboard and screen-reader users start here.
  const title = useRef(null);
  useEffect(() => title.current?.focus(), []);
  return html`<section class="card token-once" data-testid="token-once"
    aria-labelledby="token-once-title">
    <h2 id="token-once-title" tabindex="-1" ref=${title}>Token “${made.name}” is ready</h2>
    <p><strong>Copy it now: it will not be shown again.</strong> The companion keeps only a
      hash of it. If you lose it, delete it and make a new one.</p>
    <p class="secret" data-testid="token-value">${made.token}</p>
    <div class="form-actions">
      <${CopyButton} text=${made.token} label="Copy token" testid="token-copy" />
      <button type="button" data-testid="token-once-done" onClick=${onDone}>Done</button>
    </div>
  </section>`;
}

/** The form, or the token it just made; `onMade` is called after each new token. */
export function CreateToken({ role, models, onMade }) {
  const [made, setMade] = useState(null);
  const form = useForm(EMPTY, validate);
  const scopes = scopesFor(role);
  const send = form.submit(async (values) => {
    const created = await api('/bodhi/v1/tokens', { method: 'POST', body: {
      name: values.name.trim(), scope: values.scope,
      models: values.all_models ? null : values.models } });
    setMade(created);
    form.reset();
    onMade(created);
  });
  if (made) return html`<${ShownOnce} made=${made} onDone=${() => setMade(null)} />`;
  return html`<section class="card" aria-labelledby="token-new-title">
    <h2 id="token-new-title">New token</h2>
    <form onSubmit=${send} noValidate data-testid="token-form">
      <div class="form-grid">
        <${Field} form=${form} name="name" label="Name"
          hint=${`What uses it, e.g. “notebook on my laptop”. Up to ${MAX_NAME} characters.`} />
        <${Field} form=${form} name="scope" label="Scope" as="select"
          options=${scopes.map((s) => ({ value: s.value, label: s.label }))}
          hint=${scopes.length > 1 ? 'Power user tokens may also manage models.'
            : 'Your role allows user tokens: chat, embeddings and listing models.'} />
      </div>
      <${ModelPicker} form=${form} models=${models} />
      <${FormError} form=${form} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled=${form.busy}
          data-testid="token-create">Create token</button>
      </div>
    </form>
  </section>`;
}
