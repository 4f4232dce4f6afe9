// What the MCP page's parts share: the API paths, how a server's auth and an instance's state
// are written, and the slug an instance gets from its name.
import { html } from '../lib.js';
import { api } from '../api.js';

export const SERVERS = '/bodhi/v1/mcps/servers';
export const INSTANCES = '/bodhi/v1/mcps';
// The companion's own name rules (mcp/servers.py HEADER_NAME, mcp/instances.py SLUG).
export const KEY_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
export const SLUG = /^[A-Za-z0-9-]{1,24}$/;

export const AUTH_LABELS = {
  none: 'None',
  header: 'API key in a header',
  query: 'API key in the URL query',
  oauth: 'OAuth 2.1',
};

export async function loadServers() {
  return (await api(SERVERS)).data;
}

export async function loadInstances() {
  return (await api(INSTANCES)).data;
}

/** The slug made of a name: "My server!" becomes "my-server" (at most 24 characters). */
export function slugify(name) {
  return String(name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
    .slice(0, 24).replace(/-+$/, '');
}

/** Where a server runs: its URL, or its command line. */
export function serverWhere(server) {
  if (server.kind === 'stdio') return [server.command, ...(server.args ?? [])].join(' ');
  return server.url ?? '';
}

export function authSummary(server) {
  const auth = server.auth_config ?? { type: 'none' };
  if (server.kind === 'stdio') return 'Local command';
  const keys = auth.keys?.length ? ` (${auth.keys.join(', ')})` : '';
  const client = auth.type === 'oauth'
    ? (auth.client_id ? ' (registered client)' : ' (registers itself)') : '';
  return `${AUTH_LABELS[auth.type] ?? auth.type}${keys}${client}`;
}

/** An instance's state in one badge: off, not connected (OAuth), or ready. */
export function InstanceState({ instance, server }) {
  const oauth = server?.auth_config?.type === 'oauth';
  let label = oauth ? 'connected' : 'ready';
  let good = true;
  if (!instance.enabled) [label, good] = ['disabled', false];
  else if (!instance.server_enabled) [label, good] = ['server disabled', false];
  else if (instance.auth_status === 'needs_login') [label, good] = ['not connected', false];
  return html`<span class=${`badge ${good ? 'ok' : 'bad'}`} data-testid="instance-state"
    data-state=${label}>${label}</span>`;
}
