// Pending access requests: people who signed in through the identity provider and asked for a
// role. Approve with a role (up to the reviewer's own) or reject.
import { html } from '../lib.js';
import { api } from '../api.js';
import { Field, FormError, useForm } from '../forms.js';
import { ConfirmButton, timeAgo } from '../widgets.js';
import { rolesUpTo } from './rules.js';

const base = (request) => `/bodhi/v1/access-requests/${request.id}`;

function RequestRow({ request, me, onDone, onFailed }) {
  const form = useForm({ role: 'resource_user' });
  const who = request.username ?? request.user_id;
  const approve = form.submit(async (values) => {
    await api(`${base(request)}/approve`, { method: 'POST', body: { role: values.role } });
    onDone(`${who} approved.`);
  });
  const reject = async () => {
    try {
      await api(`${base(request)}/reject`, { method: 'POST', body: {} });
      onDone(`${who} rejected.`);
    } catch (error) {
      onFailed(error);
    }
  };
  return html`<tr data-testid="request-row" data-username=${who}>
    <td data-label="User"><strong>${who}</strong></td>
    <td data-label="Asked">${timeAgo(request.created_at)}</td>
    <td class="actions"><form class="inline-form" onSubmit=${approve} noValidate>
      <${Field} form=${form} name="role" label=${`Role for ${who}`} as="select"
        options=${rolesUpTo(me.role)} data-testid="approve-role" />
      <button type="submit" class="primary" disabled=${form.busy}
        data-testid="approve">Approve</button>
      <${ConfirmButton} label="Reject" question=${`Reject ${who}?`} testid="reject"
        onConfirm=${reject} />
      <${FormError} form=${form} />
    </form></td>
  </tr>`;
}

/** The pending requests, or a line saying there are none. */
export function RequestTable({ requests, me, onDone, onFailed }) {
  if (!requests.length) {
    return html`<p class="muted" data-testid="requests-empty">No one is waiting. New requests
      appear here as they arrive.</p>`;
  }
  return html`<div class="table-wrap"><table class="data stack" data-testid="requests-table">
    <caption class="sr-only">Pending access requests</caption>
    <thead><tr><th scope="col">User</th><th scope="col">Asked</th>
      <th scope="col"><span class="sr-only">Decision</span></th></tr></thead>
    <tbody>${requests.map((request) => html`<${RequestRow} key=${request.id}
      request=${request} me=${me} onDone=${onDone} onFailed=${onFailed} />`)}</tbody>
  </table></div>`;
}
