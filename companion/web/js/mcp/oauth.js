// Connecting an OAuth instance: the companion starts the login and says where to send the
// browser; the server's sign-in runs in a window of its own so this page stays, and the
// callback's `mcp.changed` event ("connected") tells the page to show it. The window is opened
// at once, before the companion answers, because browsers allow a window only right after a
// click; it gets no handle on this page (opener cut before it leaves our origin). Where no
// window may open, the page itself goes to the sign-in and the callback links back.
import { api } from '../api.js';
import { INSTANCES } from './common.js';

/** Starts the login of instance `id`: 'window' when it opened one, else the page leaves. */
export async function connect(id) {
  const login = window.open('', 'bodhi-mcp-login', 'popup,width=560,height=720');
  let reply;
  try {
    reply = await api(`${INSTANCES}/${id}/oauth/login`, { method: 'POST' });
  } catch (error) {
    login?.close();
    throw error;
  }
  if (!login) {
    window.location.assign(reply.authorize_url);
    return 'page';
  }
  login.opener = null;
  login.location.href = reply.authorize_url;
  return 'window';
}
