// Who is signed in, what their role allows, and where to return after signing in again.
import { api } from './api.js';

// The companion's roles, lowest first (Role in companion/auth/principal.py).
export const ROLES = ['resource_user', 'resource_power_user', 'resource_manager',
  'resource_admin'];
export const ROLE_NAMES = { resource_user: 'user', resource_power_user: 'power user',
  resource_manager: 'manager', resource_admin: 'admin' };

/** True when `role` is `needed` or higher. */
export function allows(role, needed) {
  return ROLES.indexOf(role) >= 0 && ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** {info, user}: the sign-in mode and the signed-in user (auth_status "logged_out" if none). */
export async function loadSession() {
  const [info, user] = await Promise.all([api('/bodhi/v1/info'), api('/bodhi/v1/user')]);
  return { info, user, signedIn: user.auth_status === 'logged_in' };
}

export async function signOut() {
  await api('/bodhi/v1/logout', { method: 'POST', body: {} });
}

// The page to come back to, kept across the sign-in (which may come back in another tab: a
// `bodhi open` link opens a new one). Only a path under /ui/, and only for an hour.
const RETURN_KEY = 'bodhi.ui.returnTo';
const RETURN_TTL_MS = 60 * 60 * 1000;

export function safeReturn(path) {
  return typeof path === 'string' && path.startsWith('/ui/') && !path.startsWith('//')
    && !path.includes('\\') && !path.startsWith('/ui/sign-in')
    && !path.startsWith('/ui/request-access') ? path : null;
}

export function rememberReturn(path) {
  const safe = safeReturn(path);
  if (safe) localStorage.setItem(RETURN_KEY, JSON.stringify({ path: safe, at: Date.now() }));
}

/** The remembered page (once: it is forgotten as it is read), or null. */
export function takeReturn() {
  const saved = localStorage.getItem(RETURN_KEY);
  localStorage.removeItem(RETURN_KEY);
  try {
    const { path, at } = JSON.parse(saved ?? 'null') ?? {};
    return Date.now() - at < RETURN_TTL_MS ? safeReturn(path) : null;
  } catch {
    return null;
  }
}
