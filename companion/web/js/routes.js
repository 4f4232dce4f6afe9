// The route table: one row per page. A page is one module under pages/ whose default export is a
// component taking {session, segments, query}. `role` is the lowest role that may use it: the
// navigation shows only the pages the signed-in role allows, and the app refuses the others.
// `oidc`: only in OIDC sign-in mode (local mode has one user).
// To add a page: write pages/<name>.js and add a row here.
import { allows } from './session.js';

export const PAGES = [
  { name: 'chat', title: 'Chat', role: 'resource_user', load: () => import('./pages/chat.js') },
  { name: 'models', title: 'Models', role: 'resource_user', load: () => import('./pages/models.js') },
  { name: 'tokens', title: 'Tokens', role: 'resource_user', load: () => import('./pages/tokens.js') },
  { name: 'apps', title: 'Apps', role: 'resource_user', load: () => import('./pages/apps.js') },
  { name: 'mcp', title: 'MCP', role: 'resource_user', load: () => import('./pages/mcp.js') },
  { name: 'users', title: 'Users', role: 'resource_manager', oidc: true,
    load: () => import('./pages/users.js') },
  { name: 'settings', title: 'Settings', role: 'resource_admin',
    load: () => import('./pages/settings.js') },
];

export const HOME = '/ui/chat';

/** True when the session may open `page`: its role is high enough and the mode has the page. */
export function pageAllowed(page, session) {
  return allows(session.user.role, page.role) && (!page.oidc || session.info.auth_mode === 'oidc');
}

export function pageNamed(name) {
  return PAGES.find((page) => page.name === name) ?? null;
}
