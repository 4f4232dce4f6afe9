// The route table: one row per page. A page is one module under pages/ whose default export is a
// component taking {session, segments, query}. `role` is the lowest role that may use it: the
// navigation shows only the pages the signed-in role allows, and the app refuses the others.
// To add a page: write pages/<name>.js and add a row here.
export const PAGES = [
  { name: 'chat', title: 'Chat', role: 'resource_user', load: () => import('./pages/chat.js') },
];

export const HOME = '/ui/chat';

export function pageNamed(name) {
  return PAGES.find((page) => page.name === name) ?? null;
}
