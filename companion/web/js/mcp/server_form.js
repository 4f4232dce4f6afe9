// Adding and changing an MCP server (admins): a remote Streamable HTTP URL with what each user
// must supply (nothing, a key in a header or the query, or an OAuth login with a registered
// client or one the companion registers itself), or a local stdio command with its arguments,
// environment and folder. Secrets (the client secret, the environment) are write-only: the
// companion never shows them again, so on an edit an empty box keeps what is stored.
import { html } from '../lib.js';
import { api } from '../api.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { Link, navigate } from '../router.js';
import { AUTH_LABELS, KEY_NAME, SERVERS } from './common.js';

const KINDS = [
  { value: 'remote', label: 'Remote (URL)' },
  { value: 'stdio', label: 'Local command (stdio)' },
];
const AUTH_OPTIONS = Object.entries(AUTH_LABELS).map(([value, label]) => ({ value, label }));

const words = (text) => String(text ?? '').split(/[\s,]+/).filter(Boolean);
const lines = (text) => String(text ?? '').split('\n').map((l) => l.trim()).filter(Boolean);

function initialValues(server) {
  const auth = server?.auth_config ?? {};
  return {
    kind: server?.kind ?? 'remote', name: server?.name ?? '',
    description: server?.description ?? '', enabled: server?.enabled ?? true,
    url: server?.url ?? '', auth_type: auth.type ?? 'none', keys: (auth.keys ?? []).join(', '),
    client_id: auth.client_id ?? '', client_secret: '', scopes: (auth.scopes ?? []).join(' '),
    command: server?.command ?? '', args: (server?.args ?? []).join('\n'), env: '',
    cwd: server?.cwd ?? '',
  };
}

/** {KEY: value} from KEY=value lines; a string naming the bad line when one is wrong. */
export function parseEnv(text) {
  const env = {};
  for (const line of lines(text)) {
    const at = line.indexOf('=');
    if (at < 1) return `"${line}" is not NAME=value.`;
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

function validate(v) {
  const errors = { name: check.required(v.name, 'A name') };
  if (v.name.length > 64) errors.name = 'At most 64 characters.';
  if (v.kind === 'stdio') {
    errors.command = check.required(v.command, 'The command');
    const env = parseEnv(v.env);
    if (typeof env === 'string') errors.env = env;
    return errors;
  }
  errors.url = check.required(v.url, 'The URL') ?? check.url(v.url.trim());
  if (['header', 'query'].includes(v.auth_type)) {
    const keys = words(v.keys);
    const bad = keys.find((k) => !KEY_NAME.test(k));
    if (keys.length === 0) errors.keys = 'Name at least one key, e.g. X-Api-Key.';
    else if (bad) errors.keys = `"${bad}" cannot be a key name.`;
  }
  if (v.auth_type === 'oauth' && v.client_secret && !v.client_id.trim()) {
    errors.client_id = 'A client secret needs its client id.';
  }
  return errors;
}

function authBody(v) {
  const auth = { type: v.auth_type };
  if (['header', 'query'].includes(v.auth_type)) auth.keys = words(v.keys);
  if (v.auth_type === 'oauth') {
    auth.client_id = v.client_id.trim() || null;
    if (v.client_secret) auth.client_secret = v.client_secret;
    auth.scopes = words(v.scopes).length ? words(v.scopes) : null;
  }
  return auth;
}

function bodyOf(v) {
  const body = { name: v.name.trim(), description: v.description.trim() || null,
    enabled: v.enabled };
  if (v.kind === 'remote') return { ...body, url: v.url.trim(), auth_config: authBody(v) };
  const env = lines(v.env).length ? parseEnv(v.env) : undefined;
  return { ...body, command: v.command.trim(), args: lines(v.args), cwd: v.cwd.trim() || null,
    ...(env ? { env } : {}) };
}

function RemoteFields({ form, server }) {
  const type = form.values.auth_type;
  const keyed = server?.auth_config?.client_id;
  return html`
    <${Field} form=${form} name="url" label="URL" type="url" placeholder="https://mcp.example.com/mcp"
      hint="The server's Streamable HTTP endpoint." />
    <${Field} form=${form} name="auth_type" label="Authentication" as="select" options=${AUTH_OPTIONS}
      hint="What each user's instance supplies." />
    ${['header', 'query'].includes(type) ? html`<${Field} form=${form} name="keys"
      label=${type === 'header' ? 'Header names' : 'Query parameter names'}
      placeholder=${type === 'header' ? 'X-Api-Key' : 'api_key'}
      hint="Comma-separated; each user enters their own values." />` : null}
    ${type === 'oauth' ? html`
      <${Field} form=${form} name="client_id" label="Client id (optional)"
        hint="Empty: the companion registers itself with the server (dynamic registration)." />
      <${Field} form=${form} name="client_secret" label="Client secret (optional)" type="password"
        autocomplete="off" hint=${keyed ? 'Empty keeps the stored secret.' : 'For a confidential client.'} />
      <${Field} form=${form} name="scopes" label="Scopes (optional)" placeholder="mcp"
        hint="Space-separated; empty asks for the server's default." />` : null}`;
}

function StdioFields({ form, server }) {
  const kept = server?.env_keys?.length ? `Empty keeps the stored ${server.env_keys.join(', ')}.`
    : 'NAME=value, one a line; kept secret.';
  return html`
    <${Field} form=${form} name="command" label="Command" placeholder="npx"
      hint="Runs as the companion's user, on this machine." />
    <${Field} form=${form} name="args" label="Arguments" as="textarea" rows="3"
      placeholder="-y\n@modelcontextprotocol/server-everything" hint="One a line." />
    <${Field} form=${form} name="env" label="Environment" as="textarea" rows="3"
      placeholder="API_KEY=..." hint=${kept} />
    <${Field} form=${form} name="cwd" label="Working folder (optional)" placeholder="/home/me" />`;
}

/** The add/edit form; `server` is null when adding. */
export function ServerForm({ server }) {
  const form = useForm(initialValues(server), validate);
  const save = form.submit(async (values) => {
    try {
      await api(server ? `${SERVERS}/${server.id}` : SERVERS,
        { method: server ? 'PUT' : 'POST', body: bodyOf(values) });
    } catch (error) {
      // The companion names the auth config as a whole; here it is the Authentication field.
      if (error?.param === 'auth_config') error.param = 'auth_type';
      throw error;
    }
    navigate('/ui/mcp');
  });
  const Kind = form.values.kind === 'stdio' ? StdioFields : RemoteFields;
  return html`<form class="card mcp-form" onSubmit=${save} noValidate data-testid="server-form"
    aria-labelledby="server-form-title">
    <h2 id="server-form-title">${server ? `Edit ${server.name}` : 'Add an MCP server'}</h2>
    <div class="form-grid">
      <${Field} form=${form} name="kind" label="Kind" as="select" options=${KINDS}
        disabled=${Boolean(server)} hint=${server ? 'A server keeps its kind.' : null} />
      <${Field} form=${form} name="name" label="Name" placeholder="github" maxlength="64" />
      <${Field} form=${form} name="description" label="Description (optional)" />
      <${Kind} form=${form} server=${server} />
      <${Field} form=${form} name="enabled" label="Enabled" as="checkbox"
        hint="A disabled server refuses every instance's requests." />
    </div>
    <${FormError} form=${form} />
    <div class="form-actions">
      <button type="submit" class="primary" disabled=${form.busy} data-testid="server-save">
        ${server ? 'Save' : 'Add server'}</button>
      <${Link} class="button" href="/ui/mcp">Cancel</${Link}>
    </div>
  </form>`;
}
