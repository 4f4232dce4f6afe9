// Users who have a role: change it (up to the changer's own role) or remove the user. Rows the
// signed-in user may not manage (themselves, the owner, admins for a manager) show why instead
// of controls; a refusal the page did not foresee is shown in the row it came from.
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { Field, FormError, useForm } from '../forms.js';
import { ConfirmButton, timeAgo } from '../widgets.js';
import { mayManage, roleName, rolesUpTo, whyNot } from './rules.js';

const userPath = (user) => `/bodhi/v1/users/${encodeURIComponent(user.user_id)}`;

function RoleForm({ user, me, onDone }) {
  const who = user.username ?? user.user_id;
  const form = useForm({ role: user.role ?? 'resource_user' },
    (values) => ({ role: values.role === user.role ? `${who} already has this role.` : null }));
  const save = form.submit(async (values) => {
    await api(`${userPath(user)}/role`, { method: 'PUT', body: { role: values.role } });
    onDone(`${who} is now a ${roleName(values.role)}.`);
  });
  return html`<form class="inline-form" onSubmit=${save} noValidate data-testid="role-form">
    <${Field} form=${form} name="role" label=${`New role for ${who}`} as="select"
      options=${rolesUpTo(me.role)} data-testid="user-role-select" />
    <button type="submit" disabled=${form.busy} data-testid="change-role">Change role</button>
    <${FormError} form=${form} />
  </form>`;
}

function UserRow({ user, me, onDone }) {
  const [refused, setRefused] = useState(null);
  const who = user.username ?? user.user_id;
  const remove = async () => {
    setRefused(null);
    try {
      await api(userPath(user), { method: 'DELETE' });
      onDone(`${who} removed.`);
    } catch (error) {
      setRefused(error.message);
    }
  };
  const manageable = mayManage(me, user);
  return html`<tr data-testid="user-row" data-username=${who} data-role=${user.role ?? ''}>
    <td data-label="User"><strong>${who}</strong>
      ${user.email && user.email !== who ? html`<br /><small class="muted">${user.email}</small>`
        : null}</td>
    <td data-label="Role"><span class="pill" data-testid="user-role-name">${roleName(user.role)}
      </span></td>
    <td data-label="Since">${timeAgo(user.created_at)}</td>
    <td class="actions">${manageable ? html`<div class="user-actions">
      <${RoleForm} user=${user} me=${me} onDone=${onDone} />
      <${ConfirmButton} label="Remove" question=${`Remove ${who}?`} testid="remove-user"
        onConfirm=${remove} />
      ${refused ? html`<p class="error" role="alert" data-testid="row-error">${refused}</p>`
        : null}</div>`
      : html`<span class="muted" data-testid="not-manageable">${whyNot(me, user)}</span>`}</td>
  </tr>`;
}

/** Everyone with a role. */
export function UserTable({ users, me, onDone }) {
  return html`<div class="table-wrap"><table class="data stack" data-testid="users-table">
    <caption class="sr-only">Users and their roles</caption>
    <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Since</th>
      <th scope="col"><span class="sr-only">Changes</span></th></tr></thead>
    <tbody>${users.map((user) => html`<${UserRow} key=${user.user_id} user=${user} me=${me}
      onDone=${onDone} />`)}</tbody>
  </table></div>`;
}
