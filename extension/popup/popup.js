// The popup: companion status and start, pairing, pending requests and granted sites. It
// re-renders on every event the background forwards from the companion's event stream.
import { setText } from '../common/dom.js';
import { callBackground, subscribe } from '../common/messaging.js';
import { pairingFailure } from '../common/pairing.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

function showError(err, describe = (e) => `${e.message} (${e.code ?? 'error'})`) {
  setText($('popup-error'), err ? describe(err) : '');
}

async function act(action, params, options, describe = undefined) {
  showError(null);
  try {
    return await callBackground(action, params, options);
  } catch (err) {
    showError(err, describe);
    return null;
  } finally {
    await render();
  }
}

function when(epoch) {
  return new Date(epoch * 1000).toLocaleString(undefined, { dateStyle: 'medium',
    timeStyle: 'short' });
}

// What each state means for the person looking at the popup, and the pill's colour.
const SERVER_TEXT = {
  ready: ['ok', 'Running and paired. Pages you allow can use your models.'],
  'not-paired': ['warn', 'Running, but this browser is not paired with it yet.'],
  unreachable: ['bad', 'Not answering. Start it, or check its URL in Settings.'],
};

function serverHint(server, native) {
  // The native host found something on the port that could not prove it is the companion.
  if (native.error?.code === 'not_companion') return native.error.message;
  if (server.status === 'unreachable' && !native.available) {
    return 'Not answering. Run `bodhi serve`, or check its URL in Settings.';
  }
  return (SERVER_TEXT[server.status] ?? ['warn', ''])[1];
}

function renderServer(server, native) {
  const [tone] = SERVER_TEXT[server.status] ?? ['warn', ''];
  $('server-status').textContent = server.status;
  $('server-status').className = `pill ${tone}`;
  $('server-hint').textContent = serverHint(server, native);
  $('server-url').textContent = server.url;
  $('server-version').textContent = server.version ? `companion ${server.version}` : '';
}

function nativeText(native) {
  if (native.available && native.error?.code === 'not_companion') {
    return 'installed (another program answers on the companion\'s port)';
  }
  if (native.available) return `installed (companion ${native.running ? 'running' : 'stopped'})`;
  if (native.error?.code === 'native_host_missing') return 'not installed';
  return `not available: ${native.error?.message ?? 'unknown'}`;
}

function renderStatus({ server, native, paired }) {
  const nativeOk = native.available;
  renderServer(server, native);
  $('native-state').textContent = nativeText(native);
  $('server-start').hidden = !(nativeOk && server.status === 'unreachable');
  // With the native host it signs in (and starts the companion if need be); without it, it
  // opens the running companion's sign-in page.
  $('open-web-ui').hidden = !(nativeOk || server.status !== 'unreachable');
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
    li.className = 'row spread';
    const origin = Object.assign(document.createElement('span'), { className: 'origin',
      textContent: r.origin });
    if (r.window_id === null) {           // one consent window at a time: this one waits
      li.append(origin, Object.assign(document.createElement('span'), { className: 'muted',
        textContent: 'next in line' }));
      return li;
    }
    const show = Object.assign(document.createElement('button'), { textContent: 'Review',
      className: 'primary' });
    show.addEventListener('click', () => act('focusRequest', { id: r.id }));
    li.append(origin, show);
    return li;
  }));
  $('pending-empty').hidden = requests.length > 0;
}

function line(text) {
  return Object.assign(document.createElement('p'), { className: 'detail', textContent: text });
}

function grantItem(grant) {
  const li = document.createElement('li');
  li.dataset.testid = 'grant';
  li.dataset.origin = grant.app;
  const head = document.createElement('div');
  head.className = 'grant-head';
  const origin = Object.assign(document.createElement('span'), { className: 'origin',
    textContent: grant.app_name ? `${grant.app_name} (${grant.app})` : grant.app });
  const revoke = Object.assign(document.createElement('button'), { textContent: 'Revoke' });
  revoke.dataset.testid = 'grant-revoke';
  revoke.title = `Take access away from ${grant.app}`;
  revoke.addEventListener('click', () => act('revoke', { id: grant.id }));
  head.append(origin, revoke);
  const models = Array.isArray(grant.models) ? grant.models.join(', ') : 'all your models';
  const lasts = grant.remember ? 'Always allowed, until you revoke it'
    : `Allowed once, until ${grant.expires_at ? when(grant.expires_at) : 'revoked'}`;
  const used = grant.last_used_at ? `last used ${when(grant.last_used_at)}` : 'not used yet';
  const chosen = grant.default_model ? ` · default ${grant.default_model}` : '';
  li.append(head, line(`May ${grant.scopes.join(', ')} · with ${models}${chosen}`));
  if (grant.mcps?.length) {
    const tools = grant.mcps.map((m) => {
      const server = typeof m.server === 'string' ? m.server : m.server?.name;
      return server ? `${m.name} (${server})` : m.name;
    });
    li.append(line(`MCP: ${tools.join(', ')}`));
    li.lastChild.dataset.testid = 'grant-mcps';
  }
  li.append(line(`${lasts} · ${used}`));
  return li;
}

function renderGrants(grants, status) {
  const active = grants.filter((g) => g.status === 'active');
  $('grant-list').replaceChildren(...active.map(grantItem));
  $('grant-empty').hidden = active.length > 0;
  const ready = status.paired && status.server.status === 'ready';
  $('grant-empty').textContent = ready ? 'No site has access.'
    : 'Sites you allowed show here once the companion is running and paired.';
}

let rendering = null;
let again = false;

// A fresh install (not running, or not paired) opens on the first-run guide; "More options"
// there comes back here with ?details.
const showDetails = new URLSearchParams(window.location.search).has('details');
let firstRender = true;

async function renderOnce() {
  const status = await callBackground('status');
  const ready = status.paired && status.server.status === 'ready';
  if (firstRender && !ready && !showDetails) {
    window.location.replace('../guide/guide.html?popup=1');
    return;
  }
  firstRender = false;
  renderStatus(status);
  renderPending(await callBackground('pending'));
  renderGrants(ready ? (await callBackground('grants')).data : [], status);
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

// The native host may have to start the companion first for any of these.
const STARTING = { timeout: 120_000 };
$('server-start').addEventListener('click', () => act('start', {}, STARTING));
$('open-web-ui').addEventListener('click', () => act('openWebUi', {}, STARTING));
$('pair-native').addEventListener('click', () => act('pairNative', {}, STARTING));
$('unpair').addEventListener('click', () => act('unpair'));
$('pair-code-form').addEventListener('submit', (event) => {
  event.preventDefault();
  act('pairCode', { code: $('pair-code').value }, {}, pairingFailure);
});

subscribe(() => render());
render();
