// The popup: companion status and start, pairing, pending requests and granted sites. It
// re-renders on every event the background forwards from the companion's event stream.
import { callBackground, subscribe } from '../common/messaging.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

function showError(err) {
  $('popup-error').textContent = err ? `${err.message} (${err.code ?? 'error'})` : '';
}

async function act(action, params, options) {
  showError(null);
  try {
    return await callBackground(action, params, options);
  } catch (err) {
    showError(err);
    return null;
  } finally {
    await render();
  }
}

function when(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleString() : 'never';
}

function renderStatus({ server, native, paired }) {
  $('server-status').textContent = server.status;
  $('server-url').textContent = server.url;
  const nativeOk = native.available;
  $('native-state').textContent = nativeOk
    ? `installed (companion ${native.running ? 'running' : 'stopped'})`
    : `not available: ${native.error?.message ?? 'unknown'}`;
  $('server-start').hidden = !(nativeOk && server.status === 'unreachable');
  $('open-web-ui').hidden = !(nativeOk && server.status !== 'unreachable');
  $('native-missing').hidden = nativeOk || native.error?.code !== 'native_host_missing';
  $('pair-state').textContent = paired ? 'Paired with the companion' : 'Not paired';
  $('pair-native').hidden = paired || !nativeOk;
  $('unpair').hidden = !paired;
  $('pair-code-form').hidden = paired;
}

function renderPending(requests) {
  $('pending-list').replaceChildren(...requests.map((r) => {
    const li = document.createElement('li');
    li.dataset.testid = 'pending-request';
    li.className = 'row';
    const origin = Object.assign(document.createElement('span'), { className: 'origin',
      textContent: r.origin });
    const show = Object.assign(document.createElement('button'), { textContent: 'Review' });
    show.addEventListener('click', () => act('focusRequest', { id: r.id }));
    li.append(origin, show);
    return li;
  }));
  $('pending-empty').hidden = requests.length > 0;
}

function grantItem(grant) {
  const li = document.createElement('li');
  li.dataset.testid = 'grant';
  li.dataset.origin = grant.app;
  const head = document.createElement('div');
  head.className = 'row';
  const origin = Object.assign(document.createElement('span'), { className: 'origin',
    textContent: grant.app_name ? `${grant.app_name} (${grant.app})` : grant.app });
  const revoke = Object.assign(document.createElement('button'), { textContent: 'Revoke' });
  revoke.dataset.testid = 'grant-revoke';
  revoke.addEventListener('click', () => act('revoke', { id: grant.id }));
  head.append(origin, revoke);
  const models = Array.isArray(grant.models) ? grant.models.join(', ') : 'all models';
  const detail = Object.assign(document.createElement('div'), { className: 'muted',
    textContent: `${grant.scopes.join(', ')} · ${models} · ${grant.remember ? 'always' : 'once'}`
      + ` · last used ${when(grant.last_used_at)}` });
  li.append(head, detail);
  return li;
}

function renderGrants(grants) {
  const active = grants.filter((g) => g.status === 'active');
  $('grant-list').replaceChildren(...active.map(grantItem));
  $('grant-empty').hidden = active.length > 0;
}

let rendering = null;
let again = false;

async function renderOnce() {
  const status = await callBackground('status');
  renderStatus(status);
  renderPending(await callBackground('pending'));
  const ready = status.paired && status.server.status === 'ready';
  renderGrants(ready ? (await callBackground('grants')).data : []);
  document.body.dataset.rendered = String(Date.now());
}

/** Renders now, or once more after the render in progress (an event may postdate its data). */
function render() {
  if (rendering) { again = true; return rendering; }
  rendering = (async () => {
    do {
      again = false;
      try { await renderOnce(); } catch (err) { showError(err); }
    } while (again);
    rendering = null;
  })();
  return rendering;
}

$('server-start').addEventListener('click', () => act('start', {}, { timeout: 120_000 }));
$('open-web-ui').addEventListener('click', () => act('openWebUi'));
$('pair-native').addEventListener('click', () => act('pairNative'));
$('unpair').addEventListener('click', () => act('unpair'));
$('pair-code-form').addEventListener('submit', (event) => {
  event.preventDefault();
  act('pairCode', { code: $('pair-code').value });
});

subscribe(() => render());
render();
