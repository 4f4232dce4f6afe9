// One app with access: who it is (a site's origin or an OAuth client), what it may use (scopes,
// models, MCP connections), when the grant was made, when it ends and when it was last used;
// its activity behind a disclosure button, and Revoke (asked twice). An ended grant (revoked or
// expired) shows the same facts without Revoke.
import { html, useState } from '../lib.js';
import { ConfirmButton, timeAgo } from '../widgets.js';
import { Activity } from './activity.js';

export const SCOPES = {
  chat: 'Chat', embeddings: 'Embeddings', models: 'List models', mcp: 'MCP tools',
};

function date(when) {
  return when ? new Date(when * 1000).toLocaleString() : null;
}

function Fact({ label, testid, children }) {
  return html`<div class="fact"><dt>${label}</dt><dd data-testid=${testid}>${children}</dd></div>`;
}

function uses(grant) {
  const models = grant.models === null ? 'All models' : grant.models.join(', ') || 'None';
  const mcps = grant.mcps.map((m) => `${m.name} (${m.server})`).join(', ');
  return { scopes: grant.scopes.map((s) => SCOPES[s] ?? s).join(', '), models, mcps };
}

function ending(grant) {
  if (grant.status === 'revoked') return 'Revoked';
  if (grant.expires_at === null) return 'Until revoked';
  const when = date(grant.expires_at);
  return grant.status === 'expired' ? `Expired ${when}` : when;
}

/** The app's name as the user knows it, and its kind. */
export function appLabel(grant) {
  const kind = grant.app_kind === 'origin' ? 'Site' : 'OAuth app';
  return { kind, name: grant.app_name || grant.app };
}

export function GrantCard({ grant, onRevoke, stamp }) {
  const [open, setOpen] = useState(false);
  const { kind, name } = appLabel(grant);
  const { scopes, models, mcps } = uses(grant);
  const panel = `activity-${grant.id}`;
  return html`<li class="app-grant" data-testid="app-grant" data-app=${grant.app}
    data-grant=${grant.id} data-status=${grant.status}>
    <div class="app-grant-head">
      <h3><span class="app-name">${name}</span>
        <span class="pill" data-testid="grant-kind">${kind}</span>
        ${grant.status === 'active' ? null : html`<span class="badge bad">${grant.status}</span>`}
      </h3>
      ${name !== grant.app ? html`<code class="app-id" data-testid="grant-app">${grant.app}</code>`
        : null}
    </div>
    <dl class="facts">
      <${Fact} label="May use" testid="grant-scopes">${scopes}<//>
      <${Fact} label="Models" testid="grant-models">${models}<//>
      ${mcps ? html`<${Fact} label="MCP" testid="grant-mcps">${mcps}<//>` : null}
      <${Fact} label="Granted" testid="grant-created">${date(grant.created_at)}<//>
      <${Fact} label="Ends" testid="grant-expires">${ending(grant)}<//>
      <${Fact} label="Last use" testid="grant-last-used">${timeAgo(grant.last_used_at)}<//>
    </dl>
    <div class="buttons">
      <button type="button" aria-expanded=${open ? 'true' : 'false'} aria-controls=${panel}
        data-testid="grant-activity-toggle" onClick=${() => setOpen(!open)}>
        ${open ? 'Hide activity' : 'Activity'}</button>
      ${grant.status === 'active' ? html`<${ConfirmButton} label="Revoke" testid="grant-revoke"
        question=${`Revoke ${name}'s access?`} onConfirm=${() => onRevoke(grant)} />` : null}
    </div>
    <div id=${panel} hidden=${!open}>
      ${open ? html`<${Activity} grantId=${grant.id} stamp=${stamp} />` : null}
    </div>
  </li>`;
}
