// The Apps page: the sites (through the Bodhi extension) and OAuth apps that have access to this
// companion for the signed-in user (GET /bodhi/v1/apps/grants). Each shows what it may use and
// its last use, its activity on demand, and Revoke. The list follows /bodhi/v1/events: a grant
// made or revoked anywhere (the extension's window, the CLI, another tab) appears or goes at
// once, a grant's use (grant.used, sent when the companion writes its batch of activity, every
// few seconds) updates its last use and open activity, and an access request waiting for the
// user is announced with where to decide it.
// Ended grants (revoked or expired) stay listed apart until the companion deletes them.
import { html, useState } from '../lib.js';
import { allPages, api } from '../api.js';
import { useEvents } from '../events.js';
import { LoadState, PageHead, useLoad, useNotice } from '../widgets.js';
import { GrantCard, appLabel } from '../apps/grant.js';
import { PendingRequests, usePending } from '../apps/pending.js';

const GRANT_EVENTS = ['grant.created', 'grant.revoked', 'grant.used', 'access_request.created',
  'access_request.updated'];

function GrantList({ grants, onRevoke, stamps, testid }) {
  return html`<ul class="app-list" data-testid=${testid}>
    ${grants.map((grant) => html`<${GrantCard} key=${grant.id} grant=${grant}
      stamp=${`${stamps.all}.${stamps[grant.id] ?? 0}`} onRevoke=${onRevoke} />`)}
  </ul>`;
}

export default function Apps() {
  const state = useLoad(() => allPages('/bodhi/v1/apps/grants'), []);
  // Bumped to read activity again: `all` for every open list, a grant's id for its own.
  const [stamps, setStamps] = useState({ all: 0 });
  const pending = usePending();
  const { show, Notice } = useNotice();
  useEvents(GRANT_EVENTS, (event) => {
    pending.hear(event);
    if (event.type === 'grant.used') {
      setStamps((old) => ({ ...old, [event.data.id]: (old[event.data.id] ?? 0) + 1 }));
    }
    if (event.type.startsWith('grant.')) state.reload();
  });
  const revoke = async (grant) => {
    try {
      await api(`/bodhi/v1/apps/grants/${encodeURIComponent(grant.id)}/revoke`,
        { method: 'POST' });
      show(`${appLabel(grant).name} can no longer use this companion.`);
    } catch (error) {
      show(`Could not revoke: ${error.message}`);
    }
    state.reload();
  };
  const refresh = () => {
    state.reload();
    setStamps((old) => ({ ...old, all: old.all + 1 }));
  };
  const grants = state.data ?? [];
  const active = grants.filter((g) => g.status === 'active');
  const ended = grants.filter((g) => g.status !== 'active');
  return html`<div class="page" data-testid="apps-page">
    <${PageHead} title="Apps">
      <button type="button" data-testid="apps-refresh" onClick=${refresh}>Refresh</button>
    <//>
    <div class="apps-intro">
      <p class="muted">Sites you allowed through the Bodhi extension, and programs you allowed
        through OAuth. They never see your API tokens; revoking one ends its very next
        request.</p>
      <${Notice} />
      <${PendingRequests} pending=${pending.list} />
    </div>
    <${LoadState} state=${state} what="the apps" />
    ${state.data ? html`<section class="card" aria-labelledby="apps-active">
      <h2 id="apps-active">With access (${active.length})</h2>
      ${active.length === 0 ? html`<p class="muted" data-testid="apps-empty">No app has access.
        When a site asks through the extension, or an OAuth app sends you to this companion,
        you decide there, and the app appears here.</p>`
        : html`<${GrantList} grants=${active} onRevoke=${revoke} stamps=${stamps}
          testid="apps-active-list" />`}
    </section>` : null}
    ${ended.length > 0 ? html`<section class="card" aria-labelledby="apps-ended">
      <details data-testid="apps-ended">
        <summary><h2 id="apps-ended" class="inline">Ended (${ended.length})</h2></summary>
        <p class="muted">Revoked and expired grants, kept for a while with their activity.</p>
        <${GrantList} grants=${ended} onRevoke=${revoke} stamps=${stamps}
          testid="apps-ended-list" />
      </details>
    </section>` : null}
  </div>`;
}
