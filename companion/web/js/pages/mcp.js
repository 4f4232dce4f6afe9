// The MCP page: the registry of MCP servers (admins add, edit and delete them; everyone signed
// in sees them) and the user's own instances, each with its keys or OAuth login and its tool
// allow-list. Addresses: /ui/mcp (both lists), /ui/mcp/servers/new and /ui/mcp/servers/<id>
// (the server form), /ui/mcp/instances/new?server=<id> and /ui/mcp/instances/<id>.
// Every `mcp.changed` event (another tab, the CLI, an OAuth login finishing) reloads the lists.
import { html, useState } from '../lib.js';
import { useEvents } from '../events.js';
import { allows } from '../session.js';
import { navigate } from '../router.js';
import { LoadState, PageHead, useLoad } from '../widgets.js';
import { loadInstances, loadServers } from '../mcp/common.js';
import { InstancesList } from '../mcp/instances.js';
import { ServersList } from '../mcp/servers.js';
import { ServerForm } from '../mcp/server_form.js';
import { InstanceForm } from '../mcp/instance_form.js';
import { InstancePage } from '../mcp/instance.js';

function Overview({ servers, instances, admin, reload }) {
  const [error, setError] = useState(null);
  return html`
    ${error ? html`<p class="error" role="alert" data-testid="mcp-error">${error}</p>` : null}
    <${InstancesList} state=${instances} servers=${servers.data} onChanged=${reload}
      onError=${setError} />
    <${ServersList} state=${servers} admin=${admin} onChanged=${reload} onError=${setError} />`;
}

function ServerEdit({ id, servers, admin }) {
  if (!admin) return html`<p class="error" role="alert">Only an admin can change MCP servers.</p>`;
  if (id === 'new') return html`<${ServerForm} server=${null} />`;
  if (!servers.data) return html`<${LoadState} state=${servers} what="the MCP servers" />`;
  const server = servers.data.find((s) => s.id === id);
  return server ? html`<${ServerForm} key=${server.id} server=${server} />`
    : html`<p class="error" role="alert">No MCP server with this id.</p>`;
}

function Body({ segments, query, servers, instances, admin, version, reload }) {
  const [, section, id] = segments;
  if (section === 'servers' && id) {
    return html`<${ServerEdit} id=${id} servers=${servers} admin=${admin} />`;
  }
  if (section === 'instances' && id) {
    if (!servers.data) return html`<${LoadState} state=${servers} what="the MCP servers" />`;
    if (id !== 'new') {
      return html`<${InstancePage} id=${id} servers=${servers.data} version=${version} />`;
    }
    return html`<${InstanceForm} instance=${null} servers=${servers.data}
      serverId=${query.get('server')} onSaved=${(made) => navigate(`/ui/mcp/instances/${made.id}`)} />`;
  }
  return html`<${Overview} servers=${servers} instances=${instances} admin=${admin}
    reload=${reload} />`;
}

export default function Mcp({ session, segments, query }) {
  const admin = allows(session.user.role, 'resource_admin');
  const [version, setVersion] = useState(0);
  const servers = useLoad(loadServers, [version]);
  const instances = useLoad(loadInstances, [version]);
  const reload = () => setVersion((n) => n + 1);
  useEvents(['mcp.changed'], reload);
  return html`<div class="page" data-testid="mcp-page">
    <${PageHead} title="MCP" />
    <${Body} segments=${segments} query=${query} servers=${servers} instances=${instances}
      admin=${admin} version=${version} reload=${reload} />
  </div>`;
}
