// The Users page (OIDC mode, managers and admins): people waiting for a role, approved or
// rejected here (users/requests.js), and everyone with a role, whose role can be changed or who
// can be removed (users/people.js). A new request appears without a reload: the companion
// announces it to managers and admins on the events socket (user_access_request.created), and
// a decision made elsewhere (user_access_request.updated) refreshes both lists.
import { html } from '../lib.js';
import { allPages } from '../api.js';
import { useEvents } from '../events.js';
import { LoadState, PageHead, useLoad, useNotice } from '../widgets.js';
import { RequestTable } from '../users/requests.js';
import { UserTable } from '../users/people.js';
import { roleName } from '../users/rules.js';

const KINDS = ['user_access_request.created', 'user_access_request.updated'];

export default function Users({ session }) {
  const requests = useLoad(() => allPages('/bodhi/v1/access-requests/pending'));
  const users = useLoad(() => allPages('/bodhi/v1/users'));
  const notice = useNotice();
  const me = session.user;
  const refresh = () => {
    requests.reload();
    users.reload();
  };
  useEvents(KINDS, refresh);
  const done = (message) => {
    notice.show(message);
    refresh();
  };
  const failed = (error) => notice.show(`Not done: ${error.message}`);
  return html`<div class="page" data-testid="users-page">
    <${PageHead} title="Users and access requests"><${notice.Notice} /></${PageHead}>
    <section class="card" aria-labelledby="requests-title">
      <h2 id="requests-title">Waiting for access
        ${requests.data?.length ? html` <span class="badge" data-testid="requests-count">
          ${requests.data.length}</span>` : null}</h2>
      <p class="muted">People who signed in and asked for a role. You can give a role up to
        your own (${roleName(me.role)}).</p>
      <${LoadState} state=${requests} what="the requests" />
      ${requests.data ? html`<${RequestTable} requests=${requests.data} me=${me}
        onDone=${done} onFailed=${failed} />` : null}
    </section>
    <section class="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <p class="muted">A new role takes effect at once: the user's sessions end and they sign
        in again. Removing a user also deletes their API tokens.</p>
      <${LoadState} state=${users} what="the users" />
      ${users.data ? html`<${UserTable} users=${users.data} me=${me} onDone=${done} />`
        : null}
    </section>
  </div>`;
}
