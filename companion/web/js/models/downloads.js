// Models → Downloads: pull a GGUF file from Hugging Face (a repository and either the file or
// a quantisation), and the download jobs with live progress from `download.updated` events
// (bytes, percent, speed, time left), cancel for a running one and retry for a failed or
// cancelled one. Power users and above.
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { useEvents } from '../events.js';
import { check, Field, FormError, useForm } from '../forms.js';
import { allows } from '../session.js';
import { formatBytes, LoadState, timeAgo, useLoad, useNotice } from '../widgets.js';
import { PowerUsersOnly } from './common.js';

const PULLS = '/bodhi/v1/models/files/pull';
const ACTIVE = ['pending', 'running'];
const STATUS_BADGE = { completed: 'ok', error: 'bad', cancelled: '' };

function validate(values) {
  const repo = values.repo.trim();
  const file = values.filename.trim();
  return {
    repo: check.required(repo, 'The repository')
      ?? (/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(repo) ? null
        : 'Write it as owner/name, e.g. bartowski/SmolLM2-135M-Instruct-GGUF.'),
    filename: file && !file.toLowerCase().endsWith('.gguf') ? 'Name a .gguf file.' : null,
    quant: values.quant.trim() && !/^[A-Za-z0-9_]+$/.test(values.quant.trim())
      ? 'A quantisation such as Q4_K_M.' : null,
  };
}

function PullForm({ onStarted }) {
  const form = useForm({ repo: '', filename: '', quant: '' }, validate);
  const pull = form.submit(async (values) => {
    const body = { repo: values.repo.trim() };
    if (values.filename.trim()) body.filename = values.filename.trim();
    else if (values.quant.trim()) body.quant = values.quant.trim();
    const job = await api(PULLS, { method: 'POST', body });
    form.reset();
    onStarted(job);
  });
  return html`<section class="card" aria-labelledby="pull-title">
    <h2 id="pull-title">Download from Hugging Face</h2>
    <form onSubmit=${pull} noValidate data-testid="pull-form">
      <div class="form-grid">
        <${Field} form=${form} name="repo" label="Repository" hint="owner/name"
          autocomplete="off" />
        <${Field} form=${form} name="filename" label="File" autocomplete="off"
          hint="e.g. model-Q4_K_M.gguf; or leave it empty and give the quantisation." />
        <${Field} form=${form} name="quant" label="Quantisation" autocomplete="off"
          hint="Used when no file is named; empty: Q4_K_M, or the repository's only GGUF." />
      </div>
      <${FormError} form=${form} />
      <div class="form-actions"><button type="submit" class="primary" disabled=${form.busy}
        data-testid="pull-start">${form.busy ? 'Starting…' : 'Download'}</button></div>
    </form></section>`;
}

function percent(job) {
  return job.total_bytes ? Math.floor((100 * job.downloaded_bytes) / job.total_bytes) : null;
}

function Progress({ job }) {
  const done = percent(job);
  const label = `${job.repo}/${job.filename} downloaded`;
  return html`<div class="job-progress">
    <progress class="progress" max="100" value=${done ?? undefined} aria-label=${label}
      data-testid="job-progress">${done ?? 0}%</progress>
    <span data-testid="job-bytes">${formatBytes(job.downloaded_bytes)}${job.total_bytes
      ? ` of ${formatBytes(job.total_bytes)}` : ''}${done === null ? '' : ` (${done}%)`}</span>
    ${job.status === 'running' && job.bytes_per_s ? html`<span class="muted"
      data-testid="job-speed">${formatBytes(job.bytes_per_s)}/s${job.eta_s !== null
        ? `, ${Math.ceil(job.eta_s)} s left` : ''}</span>` : null}
  </div>`;
}

function JobRow({ job, onAction }) {
  const [busy, setBusy] = useState(false);
  const act = (action) => async () => {
    setBusy(true);
    try {
      await onAction(job, action);
    } finally {
      setBusy(false);
    }
  };
  return html`<tr data-testid="job-row" data-job=${job.id} data-status=${job.status}
    data-file=${`${job.repo}/${job.filename}`}>
    <td data-label="File"><strong>${job.repo}</strong><br />${job.filename}</td>
    <td data-label="Status"><span class=${`badge ${STATUS_BADGE[job.status] ?? ''}`}
      data-testid="job-status">${job.status}</span>
      ${job.error ? html`<p class="error job-error" data-testid="job-error">${job.error}</p>`
        : null}</td>
    <td data-label="Progress"><${Progress} job=${job} /></td>
    <td data-label="Started">${timeAgo(job.created_at)}</td>
    <td class="actions">${ACTIVE.includes(job.status) ? html`<button type="button"
      data-testid="job-cancel" disabled=${busy} onClick=${act('cancel')}
      aria-label=${`Cancel ${job.filename}`}>Cancel</button>` : null}
      ${['error', 'cancelled'].includes(job.status) ? html`<button type="button"
      data-testid="job-retry" disabled=${busy} onClick=${act('retry')}
      aria-label=${`Retry ${job.filename}`}>Retry</button>` : null}</td>
  </tr>`;
}

// Events arrive in order on one socket and tell every change of every job, so they alone
// change a job the page knows; an API answer (the list, a start, a cancel, a retry) may be
// older than the events already heard, so it only adds a job the page has not seen yet
// (unless the socket is down, when the answer is the best news there is).
function sorted(jobs) {
  return jobs.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
}

function replace(jobs, job) {
  return sorted([job, ...(jobs ?? []).filter((j) => j.id !== job.id)]);
}

function add(jobs, job) {
  if (document.body.dataset.events !== 'open') return replace(jobs, job); // no events to wait for
  return (jobs ?? []).some((j) => j.id === job.id) ? jobs : sorted([job, ...(jobs ?? [])]);
}

function DownloadJobs() {
  const [jobs, setJobs] = useState(null);
  const [problem, setProblem] = useState(null);
  const notice = useNotice();
  const state = useLoad(async () => {
    const page = await api(`${PULLS}?page=1&page_size=50`);
    setJobs((now) => page.data.reduce(add, now ?? []));
    return page;
  });
  useEvents(['download.updated'], ({ data }) => setJobs((now) => replace(now, data)));
  const onAction = async (job, action) => {
    setProblem(null);
    try {
      const changed = await api(`${PULLS}/${job.id}/${action}`, { method: 'POST' });
      setJobs((now) => add(now, changed));
      notice.show(action === 'cancel' ? `Cancelled ${job.filename}.` : `Retrying ${job.filename}.`);
    } catch (error) {
      setProblem(error.message);
    }
  };
  return html`<div class="tab-body" data-testid="downloads-tab">
    <${PullForm} onStarted=${(job) => { setJobs((now) => add(now, job));
      notice.show(`Downloading ${job.filename}.`); }} />
    <section class="card" aria-labelledby="jobs-title"><h2 id="jobs-title">Downloads</h2>
      <${notice.Notice} />
      ${problem ? html`<p class="error" role="alert">${problem}</p>` : null}
      <${LoadState} state=${state} what="the downloads" />
      ${jobs && jobs.length === 0 ? html`<p class="muted">No downloads yet.</p>` : null}
      ${jobs && jobs.length ? html`<div class="table-wrap"><table class="data stack"
        data-testid="job-table"><thead><tr><th scope="col">File</th><th scope="col">Status</th>
        <th scope="col">Progress</th><th scope="col">Started</th>
        <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${jobs.map((job) => html`<${JobRow} key=${job.id} job=${job}
          onAction=${onAction} />`)}</tbody></table></div>` : null}
    </section></div>`;
}

export default function Downloads({ session }) {
  return allows(session.user.role, 'resource_power_user') ? html`<${DownloadJobs} />`
    : html`<${PowerUsersOnly} what="the downloads" />`;
}
