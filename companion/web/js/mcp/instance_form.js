// Creating and changing one of the user's instances: which server, a name and slug (the slug
// names the instance's tools in chat, so it is short), enabled, and the keys a header- or
// query-keyed server asks for. Keys are write-only: on an edit an empty box keeps the stored
// value. OAuth instances have no keys; they connect from the instance's page.
import { html } from '../lib.js';
import { api } from '../api.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { Link } from '../router.js';
import { INSTANCES, SLUG, slugify } from './common.js';

const credName = (key) => `cred_${key}`;

function keysOf(server) {
  const auth = server?.auth_config;
  return auth && ['header', 'query'].includes(auth.type) ? auth.keys : [];
}

function initialValues(instance, serverId) {
  return { server_id: instance?.server_id ?? serverId ?? '', name: instance?.name ?? '',
    slug: instance?.slug ?? '', enabled: instance?.enabled ?? true };
}

function validator(servers, instance) {
  return (v) => {
    const errors = { server_id: check.required(v.server_id, 'A server'),
      name: check.required(v.name, 'A name') };
    const slug = v.slug.trim() || slugify(v.name);
    if (v.name.trim() && !SLUG.test(slug)) {
      errors.slug = 'Letters, digits and -, at most 24 characters.';
    }
    const server = servers.find((s) => s.id === v.server_id);
    for (const key of keysOf(server)) {
      const set = instance?.credential_keys?.includes(key);
      if (!set && !String(v[credName(key)] ?? '').trim()) errors[credName(key)] = `${key} is required.`;
    }
    return errors;
  };
}

function bodyOf(v, server, instance) {
  const credentials = {};
  for (const key of keysOf(server)) {
    const value = String(v[credName(key)] ?? '').trim();
    if (value) credentials[key] = value;
  }
  const body = { name: v.name.trim(), slug: v.slug.trim() || slugify(v.name), enabled: v.enabled };
  if (!instance) body.server_id = v.server_id;
  if (Object.keys(credentials).length) body.credentials = credentials;
  return body;
}

function KeyFields({ form, server, instance }) {
  return keysOf(server).map((key) => html`<${Field} key=${key} form=${form} name=${credName(key)}
    label=${key} type="password" autocomplete="off" data-testid=${`field-cred-${key}`}
    hint=${instance?.credential_keys?.includes(key) ? 'Set. Empty keeps it.'
      : `Your value for the ${server.auth_config.type === 'header' ? 'header' : 'query parameter'}.`} />`);
}

/**
 * `instance` null: create (the server from `serverId` preselected). `onSaved(instance)` runs
 * with the companion's answer.
 */
export function InstanceForm({ instance, servers, serverId, onSaved }) {
  const form = useForm(initialValues(instance, serverId), validator(servers, instance));
  const server = servers.find((s) => s.id === form.values.server_id);
  const save = form.submit(async (values) => {
    try {
      const saved = await api(instance ? `${INSTANCES}/${instance.id}` : INSTANCES, {
        method: instance ? 'PUT' : 'POST', body: bodyOf(values, server, instance) });
      // Keys are write-only: clear the boxes once they are stored.
      form.setValues((old) => ({ ...old,
        ...Object.fromEntries(keysOf(server).map((k) => [credName(k), ''])) }));
      onSaved(saved);
    } catch (error) {
      // The companion names the keys as a whole: show it under the first key.
      if (error?.param === 'credentials' && keysOf(server).length) {
        error.param = credName(keysOf(server)[0]);
      }
      throw error;
    }
  });
  const options = [{ value: '', label: 'Choose a server…' },
    ...servers.map((s) => ({ value: s.id, label: s.enabled ? s.name : `${s.name} (disabled)` }))];
  return html`<form class="card mcp-form" onSubmit=${save} noValidate data-testid="instance-form"
    aria-labelledby="instance-form-title">
    <h2 id="instance-form-title">${instance ? 'Settings' : 'Add an instance'}</h2>
    <div class="form-grid">
      <${Field} form=${form} name="server_id" label="Server" as="select" options=${options}
        disabled=${Boolean(instance)} />
      <${Field} form=${form} name="name" label="Name" maxlength="64" />
      <${Field} form=${form} name="slug" label="Slug" maxlength="24"
        placeholder=${slugify(form.values.name) || 'my-server'}
        hint="Short name for its tools in chat; empty: made from the name." />
      <${KeyFields} form=${form} server=${server} instance=${instance} />
      <${Field} form=${form} name="enabled" label="Enabled" as="checkbox" />
    </div>
    ${server?.auth_config?.type === 'oauth' && !instance ? html`<p class="muted small">
      This server signs you in with OAuth: after adding, choose <em>Connect</em>.</p>` : null}
    <${FormError} form=${form} />
    <div class="form-actions">
      <button type="submit" class="primary" disabled=${form.busy} data-testid="instance-save">
        ${instance ? 'Save' : 'Add instance'}</button>
      ${instance ? null : html`<${Link} class="button" href="/ui/mcp">Cancel</${Link}>`}
    </div>
  </form>`;
}
