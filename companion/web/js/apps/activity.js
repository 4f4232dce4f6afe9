// One app's activity: the requests it made with its token, newest first (GET
// /bodhi/v1/apps/grants/{id}/activity), a page at a time with "More". Each row is the request's
// outline only: when, method and path, the model it named, the status and how long it took.
// The companion never keeps what was sent, so there is nothing more to show.
import { html, useEffect, useState } from '../lib.js';
import { api } from '../api.js';
import { timeAgo } from '../widgets.js';

const PAGE_SIZE = 20;

function took(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function StatusBadge({ status }) {
  const ok = status >= 200 && status < 400;
  return html`<span class=${`badge ${ok ? 'ok' : 'bad'}`} data-testid="activity-status">
    ${status}</span>`;
}

function Row({ entry }) {
  const when = new Date(entry.at * 1000);
  return html`<tr data-testid="activity-row" data-status=${entry.status}>
    <td data-label="When"><time datetime=${when.toISOString()} title=${when.toLocaleString()}>
      ${timeAgo(entry.at)}</time></td>
    <td data-label="Call"><code>${entry.method} ${entry.path}</code></td>
    <td data-label="Model" data-testid="activity-model">${entry.model ?? '—'}</td>
    <td data-label="Status"><${StatusBadge} status=${entry.status} /></td>
    <td data-label="Took" class="num">${took(entry.duration_ms)}</td>
  </tr>`;
}

async function fetchPage(grantId, page) {
  return api(`/bodhi/v1/apps/grants/${encodeURIComponent(grantId)}/activity`
    + `?page=${page}&page_size=${PAGE_SIZE}`);
}

/** The activity of grant `grantId`; `stamp` changes when the list should be read again. */
export function Activity({ grantId, stamp }) {
  const [state, setState] = useState({ entries: [], total: 0, page: 0, error: null, busy: true });
  const load = async (page, keep) => {
    setState((old) => ({ ...old, busy: true }));
    try {
      const reply = await fetchPage(grantId, page);
      setState((old) => ({ entries: [...(keep ? old.entries : []), ...reply.data],
        total: reply.total, page, error: null, busy: false }));
    } catch (error) {
      setState((old) => ({ ...old, error, busy: false }));
    }
  };
  useEffect(() => { load(1, false); }, [grantId, stamp]);
  const { entries, total, error, busy } = state;
  return html`<div class="activity" data-testid="activity" aria-busy=${busy ? 'true' : 'false'}>
    ${error ? html`<p class="error" role="alert">Could not load the activity:
      ${error.message}</p>` : null}
    ${!busy && !error && entries.length === 0
      ? html`<p class="muted" data-testid="activity-empty">No requests yet.</p>` : null}
    ${entries.length > 0 ? html`<div class="table-wrap"><table class="data stack">
      <caption class="sr-only">Requests made by this app, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Call</th><th scope="col">Model</th>
        <th scope="col">Status</th><th scope="col">Took</th></tr></thead>
      <tbody>${entries.map((entry) => html`<${Row} key=${entry.id} entry=${entry} />`)}</tbody>
    </table></div>` : null}
    <div class="activity-foot">
      <span class="muted" data-testid="activity-count">${
        `${entries.length} of ${total} request${total === 1 ? '' : 's'}`}</span>
      ${entries.length < total ? html`<button type="button" data-testid="activity-more"
        disabled=${busy} onClick=${() => load(state.page + 1, true)}>More</button>` : null}
      <button type="button" data-testid="activity-refresh" disabled=${busy}
        onClick=${() => load(1, false)}>Refresh</button>
    </div>
  </div>`;
}
