// Forms on every page: values, checks before sending, and the server's answer shown next to the
// field it names. A page describes its fields once:
//
//   const form = useForm({ alias: '', repo: '' }, (v) => ({ alias: v.alias ? null : 'Required' }));
//   <form onSubmit=${form.submit((values) => api(...))} noValidate>
//     <${Field} form=${form} name="alias" label="Alias" />
//     <${FormError} form=${form} />
//
// `submit` runs the checks; the first field with a problem gets the focus and nothing is sent.
// An ApiError whose `param` names a field (its first or last path part, e.g. `request_params.
// temperature` → `temperature` or `request_params`) is shown under that field; any other error
// is shown by FormError. The handler may return a value, which `submit`'s promise resolves to.
import { html, useRef, useState } from './lib.js';

let nextId = 0;

function fieldFor(param, names) {
  if (!param) return null;
  const parts = String(param).split('.');
  return [param, parts[parts.length - 1], parts[0]].find((name) => names.includes(name)) ?? null;
}

export function useForm(initial, validate = () => ({})) {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const prefix = useRef(`f${nextId += 1}`).current;
  const set = (name, value) => {
    setValues((old) => ({ ...old, [name]: value }));
    setErrors((old) => (old[name] ? { ...old, [name]: null } : old));
  };
  const focus = (name) => document.getElementById(`${prefix}-${name}`)?.focus();
  const submit = (handler) => async (event) => {
    event?.preventDefault();
    const found = Object.fromEntries(Object.entries(validate(values) ?? {})
      .filter(([, message]) => message));
    setErrors(found);
    setFormError(null);
    const first = Object.keys(found)[0];
    if (first) {
      focus(first);
      return undefined;
    }
    setBusy(true);
    try {
      return await handler(values);
    } catch (error) {
      const name = fieldFor(error?.param, Object.keys(values));
      if (name) {
        setErrors({ [name]: error.message });
        focus(name);
      } else {
        setFormError(error?.message ?? String(error));
      }
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  const reset = (next = initial) => {
    setValues(next);
    setErrors({});
    setFormError(null);
  };
  return { values, errors, formError, busy, set, submit, reset, setValues, prefix,
    id: (name) => `${prefix}-${name}` };
}

function control(form, name, as, { options = [], ...props }) {
  const id = form.id(name);
  const common = {
    id, name, 'aria-invalid': form.errors[name] ? 'true' : undefined,
    'aria-describedby': `${id}-hint ${id}-error`, 'data-testid': props['data-testid'] ?? `field-${name}`,
  };
  if (as === 'checkbox') {
    return html`<input type="checkbox" ...${common} ...${props} checked=${Boolean(form.values[name])}
      onChange=${(e) => form.set(name, e.target.checked)} />`;
  }
  if (as === 'select') {
    return html`<select ...${common} ...${props} value=${form.values[name] ?? ''}
      onChange=${(e) => form.set(name, e.target.value)}>
      ${options.map((o) => (typeof o === 'string' ? { value: o, label: o } : o))
        .map((o) => html`<option value=${o.value}>${o.label}</option>`)}
    </select>`;
  }
  if (as === 'textarea') {
    return html`<textarea ...${common} ...${props} value=${form.values[name] ?? ''}
      onInput=${(e) => form.set(name, e.target.value)} />`;
  }
  return html`<input type="text" ...${common} ...${props} value=${form.values[name] ?? ''}
    onInput=${(e) => form.set(name, e.target.value)} />`;
}

/**
 * One labelled control bound to `form.values[name]`, with its hint and its error below it.
 * `as`: input (default; pass `type`), textarea, select (pass `options`), checkbox.
 */
export function Field({ form, name, label, hint, as = 'input', ...props }) {
  const id = form.id(name);
  const error = form.errors[name];
  const box = as === 'checkbox';
  return html`<div class=${`form-field${box ? ' check' : ''}${error ? ' invalid' : ''}`}>
    ${box ? control(form, name, as, props) : null}
    <label for=${id}>${label}</label>
    ${box ? null : control(form, name, as, props)}
    ${hint ? html`<small id=${`${id}-hint`} class="hint">${hint}</small>` : null}
    <small id=${`${id}-error`} class="field-error" role=${error ? 'alert' : undefined}
      data-testid=${`error-${name}`}>${error ?? ''}</small>
  </div>`;
}

/** The error the server gave that names no field. */
export function FormError({ form }) {
  return form.formError
    ? html`<p class="error" role="alert" data-testid="form-error">${form.formError}</p>`
    : null;
}

// Checks that several forms share. Each returns an error message or null.
export const check = {
  required: (value, what = 'This') => (String(value ?? '').trim() ? null : `${what} is required.`),
  number: (value, { min = -Infinity, max = Infinity, integer = false } = {}) => {
    if (value === '' || value === null || value === undefined) return null;
    const n = Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      return integer ? 'Enter a whole number.' : 'Enter a number.';
    }
    if (n < min || n > max) return `Enter a number from ${min} to ${max}.`;
    return null;
  },
  url: (value) => {
    try {
      const url = new URL(String(value));
      return ['http:', 'https:'].includes(url.protocol) ? null : 'Use an http(s) URL.';
    } catch {
      return 'Enter a full URL, e.g. https://api.example.com/v1';
    }
  },
};
