// The signed-in user's own MCP instances: one connection each to a registered server, with
// its state (ready, connected, not connected yet) and how many of its tools are allowed.
import { html } from '../lib.js';
import { api } from '../api.js';
import { Link } from '../router.js';
import { ConfirmButton, LoadState } from '../widgets.js';
import { INSTANCES, InstanceState } from './common.js';

function toolsLabel(instance) {
  if (instance.allowed_tools === null) return 'all';
  const n = instance.allowed_tools.length;
  return n === 0 ? 'none' : `${n} allowed`;
}

function InstanceRow({ instance, server, onDeleted, onError }) {
  const remove = async () => {
    try {
      await api(`${INSTANCES}/${instance.id}`, { method: 'DELETE' });
      onDeleted(instance);
    } catch (error) {
      onError(`Could not delete ${instance.name}: ${error.message}`);
    }
  };
  return html`<tr data-testid="instance-row" data-slug=${instance.slug}>
    <td data-label="Name"><${Link} href=${`/ui/mcp/instances/${instance.id}`}
      data-testid="instance-open">${instance.name}</${Link}> <code class="muted">${instance.slug}</code></td>
    <td data-label="Server">${instance.server?.name ?? '—'}</td>
    <td data-label="State"><${InstanceState} instance=${instance} server=${server} /></td>
    <td data-label="Tools" data-testid="instance-tools">${toolsLabel(instance)}</td>
    <td class="actions"><${ConfirmButton} label="Delete" question=${`Delete ${instance.name}?`}
      testid="instance-delete" onConfirm=${remove} /></td>
  </tr>`;
}

/** The instances table; `state` is useLoad's over the instances, `servers` the registry. */
export function InstancesList({ state, servers, onChanged, onError }) {
  const instances = state.data ?? [];
  const byId = Object.fromEntries((servers ?? []).map((s) => [s.id, s]));
  return html`<section class="card" aria-labelledby="mcp-instances-title" data-testid="instances">
    <h2 id="mcp-instances-title">Your instances</h2>
    <p class="muted small">Your own connections to the servers below, with your keys or your
      OAuth login. Chat, apps and API tokens use them through the companion.</p>
    <${LoadState} state=${state} what="your MCP instances" />
    ${state.data && instances.length === 0 ? html`<p class="muted" data-testid="instances-empty">
      No instances yet: choose <em>Add instance</em> next to a server.</p>` : null}
    ${instances.length > 0 ? html`<div class="table-wrap"><table class="data stack">
      <thead><tr><th>Name</th><th>Server</th><th>State</th><th>Tools</th>
        <th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${instances.map((instance) => html`<${InstanceRow} key=${instance.id}
        instance=${instance} server=${byId[instance.server_id]} onDeleted=${onChanged}
        onError=${onError} />`)}</tbody>
    </table></div>` : null}
  </section>`;
}
