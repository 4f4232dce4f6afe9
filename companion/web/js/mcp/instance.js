// One instance's page: its state and, for an OAuth server, Connect (the login in its own
// window); the address MCP clients use; its settings; its tools and the allow-list; Delete.
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { Link, navigate } from '../router.js';
import { ConfirmButton, CopyButton, LoadState, useLoad, useNotice } from '../widgets.js';
import { INSTANCES, InstanceState } from './common.js';
import { InstanceForm } from './instance_form.js';
import { connect } from './oauth.js';
import { ToolsSection } from './tools.js';

function Connect({ instance, onError }) {
  const [busy, setBusy] = useState(false);
  const [waiting, setWaiting] = useState(false);
  const start = async () => {
    setBusy(true);
    onError(null);
    try {
      setWaiting((await connect(instance.id)) === 'window');
    } catch (error) {
      onError(`Could not start the login: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };
  const ready = instance.auth_status === 'ready';
  return html`<button type="button" class=${ready ? '' : 'primary'} disabled=${busy}
      data-testid="instance-connect" onClick=${start}>${ready ? 'Reconnect' : 'Connect'}</button>
    ${waiting && !ready ? html`<span class="muted small" role="status">Finish signing in in the
      window that opened.</span>` : null}`;
}

function Summary({ instance, server }) {
  const [error, setError] = useState(null);
  const address = new URL(instance.mcp_path, window.location.href).href;
  const oauth = server?.auth_config?.type === 'oauth';
  return html`<section class="card" aria-labelledby="mcp-instance-title" data-testid="instance">
    <div class="section-head"><h2 id="mcp-instance-title">${instance.name}</h2>
      <${InstanceState} instance=${instance} server=${server} /></div>
    <p class="muted small">Instance <code>${instance.slug}</code> of <strong>${instance.server?.name
      }</strong>${server?.url ? html` (<code>${server.url}</code>)` : null}.</p>
    ${instance.auth_error ? html`<p class="error" data-testid="instance-auth-error">
      ${instance.auth_error}</p>` : null}
    ${oauth ? html`<div class="form-actions"><${Connect} instance=${instance} onError=${setError} />
      </div>` : null}
    ${error ? html`<p class="error" role="alert" data-testid="connect-error">${error}</p>` : null}
    <div class="mcp-address"><span class="muted small">MCP address (for clients with an API token):</span>
      <code data-testid="instance-address">${address}</code>
      <${CopyButton} text=${address} testid="instance-address-copy" /></div>
  </section>`;
}

/** /ui/mcp/instances/<id>; `servers` is the registry, `version` bumps on every mcp.changed. */
export function InstancePage({ id, servers, version }) {
  const state = useLoad(() => api(`${INSTANCES}/${id}`), [id, version]);
  const notice = useNotice();
  const instance = state.data;
  if (!instance || state.error) {
    return html`<${LoadState} state=${state} what="this instance" />`;
  }
  const server = servers.find((s) => s.id === instance.server_id);
  const needsLogin = instance.auth_status === 'needs_login';
  const remove = async () => {
    await api(`${INSTANCES}/${instance.id}`, { method: 'DELETE' });
    navigate('/ui/mcp');
  };
  return html`
    <p><${Link} href="/ui/mcp">← All MCP servers and instances</${Link}></p>
    <${Summary} instance=${instance} server=${server} />
    ${needsLogin ? html`<section class="card" data-testid="tools"><h2>Tools</h2>
      <p class="muted">Connect first: the server shows its tools after you sign in.</p></section>`
      : html`<${ToolsSection} instance=${instance} version=${version} />`}
    <${InstanceForm} key=${instance.id} instance=${instance} servers=${servers}
      onSaved=${() => { notice.show('Saved'); state.reload(); }} />
    <${notice.Notice} />
    <section class="card" aria-labelledby="mcp-danger-title"><h2 id="mcp-danger-title">Delete</h2>
      <p class="muted small">Removes your keys or login for this server; apps and tokens bound to
        it lose it.</p>
      <${ConfirmButton} label="Delete instance" question=${`Delete ${instance.name}?`}
        testid="instance-delete" onConfirm=${remove} /></section>`;
}
