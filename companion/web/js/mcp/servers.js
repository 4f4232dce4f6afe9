// The registry of MCP servers: everyone signed in sees it and may connect to a server (make an
// instance); only an admin sees Edit and Delete (the companion refuses the rest anyway).
import { html } from '../lib.js';
import { api } from '../api.js';
import { Link } from '../router.js';
import { ConfirmButton, LoadState } from '../widgets.js';
import { SERVERS, authSummary, serverWhere } from './common.js';

function ServerRow({ server, admin, onDeleted, onError }) {
  const remove = async () => {
    try {
      await api(`${SERVERS}/${server.id}`, { method: 'DELETE' });
      onDeleted(server);
    } catch (error) {
      onError(`Could not delete ${server.name}: ${error.message}`);
    }
  };
  return html`<tr data-testid="server-row" data-name=${server.name}>
    <td data-label="Name"><strong>${server.name}</strong>
      ${server.description ? html`<div class="muted small">${server.description}</div>` : null}</td>
    <td data-label="Where" class="mcp-where"><code>${serverWhere(server)}</code></td>
    <td data-label="Auth">${authSummary(server)}</td>
    <td data-label="Status"><span class=${`badge ${server.enabled ? 'ok' : 'bad'}`}>
      ${server.enabled ? 'enabled' : 'disabled'}</span></td>
    <td class="actions">
      <${Link} class="button" href=${`/ui/mcp/instances/new?server=${server.id}`}
        data-testid="server-connect" aria-label=${`Add instance of ${server.name}`}>
        Add instance</${Link}>
      ${admin ? html`<${Link} class="button" href=${`/ui/mcp/servers/${server.id}`}
        data-testid="server-edit" aria-label=${`Edit ${server.name}`}>Edit</${Link}>
        <${ConfirmButton} label="Delete" question=${`Delete ${server.name}?`}
          testid="server-delete" onConfirm=${remove} />` : null}
    </td>
  </tr>`;
}

/** The servers table; `state` is useLoad's over the server list. */
export function ServersList({ state, admin, onChanged, onError }) {
  const servers = state.data ?? [];
  return html`<section class="card" aria-labelledby="mcp-servers-title" data-testid="servers">
    <div class="section-head"><h2 id="mcp-servers-title">Servers</h2>
      ${admin ? html`<${Link} class="button primary" href="/ui/mcp/servers/new"
        data-testid="server-add">Add server</${Link}>` : null}</div>
    <p class="muted small">${admin
      ? 'The MCP servers of this companion. Each user connects to a server with an instance of their own.'
      : 'The MCP servers an admin registered. Add an instance to use one.'}</p>
    <${LoadState} state=${state} what="the MCP servers" />
    ${state.data && servers.length === 0
      ? html`<p class="muted" data-testid="servers-empty">No MCP servers yet.</p>` : null}
    ${servers.length > 0 ? html`<div class="table-wrap"><table class="data stack">
      <thead><tr><th>Name</th><th>Where</th><th>Auth</th><th>Status</th>
        <th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${servers.map((server) => html`<${ServerRow} key=${server.id} server=${server}
        admin=${admin} onDeleted=${onChanged} onError=${onError} />`)}</tbody>
    </table></div>` : null}
  </section>`;
}
