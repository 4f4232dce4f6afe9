// What the signed-in manager or admin may do to others: the same rules the companion applies
// (companion/auth/users.py), so the page offers only what would be accepted. The companion
// still decides; a refusal is shown where it happened.
import { ROLES, ROLE_NAMES, allows } from '../session.js';

const OWNER = 'owner';   // the local owner (OWNER_USER_ID): always an admin

/** The roles `me` may give: up to its own. */
export function rolesUpTo(me) {
  return ROLES.filter((role) => allows(me, role))
    .map((role) => ({ value: role, label: ROLE_NAMES[role] }));
}

/** Whether `me` (a session user) may change or remove `user`. */
export function mayManage(me, user) {
  if (user.user_id === me.user_id || user.user_id === OWNER) return false;
  if (allows(me.role, 'resource_admin')) return true;
  return allows(me.role, 'resource_manager') && user.role !== 'resource_admin';
}

/** Why `me` may not manage `user`, in words. */
export function whyNot(me, user) {
  if (user.user_id === me.user_id) return 'this is you';
  if (user.user_id === OWNER) return 'the owner is always an admin';
  return 'only an admin changes an admin';
}

export const roleName = (role) => (role ? ROLE_NAMES[role] ?? role : 'no role');
