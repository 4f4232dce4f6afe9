// Access requests waiting for the user, as the events socket announces them while the page is
// open (access_request.created, then access_request.updated when decided or expired). Sites ask
// through the Bodhi extension, which opens its own window to decide in; OAuth apps ask on the
// companion's consent page in the browser they sent the user to. This only says so: the
// decision is taken there, where the app is shown as the browser saw it.
import { html, useState } from '../lib.js';
import { SCOPES } from './grant.js';

export function usePending() {
  const [list, setList] = useState([]);
  const hear = ({ type, data }) => {
    if (type === 'access_request.created' && data?.status === 'draft') {
      setList((old) => [...old.filter((r) => r.id !== data.id), data]);
    } else if (type === 'access_request.updated') {
      setList((old) => old.filter((r) => r.id !== data?.id));
    }
  };
  return { list, hear };
}

/** Always in the page, so that screen readers announce a request as it arrives. */
export function PendingRequests({ pending }) {
  return html`<div role="status" class="pending-box">${pending.length === 0 ? null : html`
    <section class="card pending" aria-labelledby="apps-pending" data-testid="apps-pending">
    <h2 id="apps-pending">Waiting for you (${pending.length})</h2>
    <ul>${pending.map((r) => html`<li key=${r.id} data-testid="pending-request">
      <strong>${r.app_name || r.app}</strong> asks to use
      ${r.requested.scopes.map((s) => SCOPES[s] ?? s).join(', ')}.
      ${r.app_kind === 'origin' ? ' Decide in the Bodhi extension’s window.'
        : ' Decide on the consent page it opened.'}</li>`)}</ul>
  </section>`}</div>`;
}
