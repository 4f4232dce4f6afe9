// The consent window for one access request (?request=<id>). The page that asked cannot reach
// this window: approval travels from here to the background, never from a content script.
import { callBackground, subscribe } from '../common/messaging.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const requestId = new URLSearchParams(window.location.search).get('request');
const SCOPE_TEXT = {
  chat: 'chat with your models',
  embeddings: 'turn text into embeddings (vectors for search)',
  models: 'see the list of your models',
  mcp: 'use the tools of the MCP servers you pick below',
};
let review = null;
// The allow buttons come alive only ARM_DELAY_MS after the window is visible and focused, and
// again after every time it loses focus, as browsers do for their permission prompts: a click
// or key press meant for the page underneath cannot land on "Allow". Deny is never held back.
const ARM_DELAY_MS = 1000;
let armed = false;
let armTimer = null;

function fail(err) {
  $('consent-error').textContent = `${err.message} (${err.code ?? 'error'})`;
}

function ticked() {
  return [...document.querySelectorAll('input[data-scope]:checked')].map((i) => i.dataset.scope);
}

/** The MCP instances bound to the servers asked for (none while `mcp` is unticked). */
function boundMcps() {
  if (!ticked().includes('mcp')) return [];
  const ids = [...document.querySelectorAll('select[data-mcp]')].map((s) => s.value);
  return [...new Set(ids.filter(Boolean))];
}

/** The scopes to grant: `mcp` only when at least one instance is bound to it. */
function chosenScopes() {
  const scopes = ticked();
  return boundMcps().length ? scopes : scopes.filter((s) => s !== 'mcp');
}

function renderScopes(scopes) {
  $('consent-scopes').replaceChildren(...scopes.map((scope) => {
    const li = document.createElement('li');
    const label = document.createElement('label');
    const box = Object.assign(document.createElement('input'), { type: 'checkbox',
      checked: true });
    box.dataset.testid = `scope-${scope}`;
    box.dataset.scope = scope;
    box.addEventListener('change', () => { updateMcpChoices(); updateButtons(); });
    const text = Object.assign(document.createElement('span'), {
      textContent: `${SCOPE_TEXT[scope] ?? scope} ` });
    text.append(Object.assign(document.createElement('code'), { textContent: scope }));
    label.append(box, text);
    li.append(label);
    return li;
  }));
}

function rearm() {
  clearTimeout(armTimer);
  armed = false;
  updateButtons();
  if (document.visibilityState === 'visible' && document.hasFocus()) {
    armTimer = setTimeout(() => { armed = true; updateButtons(); }, ARM_DELAY_MS);
  }
}

function updateButtons() {
  document.body.dataset.armed = String(armed);
  const modelsOk = !review || !offeredModels().length || tickedModels().length > 0;
  const usable = armed && review?.status === 'draft' && chosenScopes().length > 0 && modelsOk;
  $('consent-no-scope').hidden = !review || chosenScopes().length > 0;
  $('consent-allow-once').disabled = !usable;
  $('consent-allow-always').disabled = !usable;
}

// Models: the ones the page named, or else all of the user's. All ticked while the page named
// none means any model, including ones added later; unticking narrows the grant to the rest.
function offeredModels() {
  const asked = review.requested?.models;
  return asked?.length ? asked : review.available_models ?? [];
}

function tickedModels() {
  return [...document.querySelectorAll('input[data-model]:checked')].map((i) => i.dataset.model);
}

/** The grant's models: null (any) when the page named none and every box is still ticked. */
function chosenModels() {
  const ticked = tickedModels();
  const anyModel = !review.requested?.models?.length && ticked.length === offeredModels().length;
  return anyModel ? null : ticked;
}

function modelsNote() {
  if (review.requested?.models?.length) return 'The site asks for these; untick any it may not use.';
  if (chosenModels() === null) return 'Any of your models, including ones you add later.';
  return 'Only the ticked models.';
}

function renderModels() {
  $('consent-models').replaceChildren(...offeredModels().map((model) => {
    const box = Object.assign(document.createElement('input'), { type: 'checkbox',
      checked: true });
    box.dataset.model = model;
    box.dataset.testid = `model-${model}`;
    box.addEventListener('change', () => { updateDefaultModel(); updateButtons(); });
    const label = document.createElement('label');
    label.append(box, Object.assign(document.createElement('span'), { textContent: model }));
    const li = document.createElement('li');
    li.append(label);
    return li;
  }));
  updateDefaultModel();
}

// The default is one of the ticked models; the user's pick stays while it is still ticked.
function updateDefaultModel() {
  const select = $('consent-default-model');
  const kept = select.value;
  const ticked = tickedModels();
  select.replaceChildren(...ticked.map((m) => new Option(m, m)));
  select.value = ticked.includes(kept) ? kept : (ticked[0] ?? '');
  select.disabled = ticked.length < 2;
  $('consent-models-note').textContent = modelsNote();
  $('consent-no-model').hidden = ticked.length > 0 || offeredModels().length === 0;
}

const asked = (requested) => requested?.url ?? requested?.name ?? '?';

// Why a server the site asked for cannot be given: nothing registered matches what it named,
// or the user has no (enabled) connection to the server yet.
function missingText({ requested, server }) {
  if (!server) return `No server registered for ${asked(requested)}.`;
  return `You have no connection to ${server.name} yet — add one in the companion.`;
}

function mcpChoice(entry, index) {
  const li = Object.assign(document.createElement('li'), { className: 'mcp' });
  li.dataset.testid = 'consent-mcp';
  const server = entry.server;
  const title = Object.assign(document.createElement('div'), { className: 'asked',
    textContent: server ? `${server.name} (${server.url ?? server.kind})`
      : asked(entry.requested) });
  li.append(title);
  const instances = entry.instances ?? [];
  if (!instances.length) {
    li.append(Object.assign(document.createElement('p'), { className: 'muted',
      textContent: `${missingText(entry)} The site will not get it.` }));
    li.lastChild.dataset.testid = 'consent-mcp-missing';
    return li;
  }
  const select = document.createElement('select');
  select.dataset.testid = 'consent-mcp-select';
  select.dataset.mcp = String(index);
  select.setAttribute('aria-label', `Connection for ${title.textContent}`);
  for (const instance of instances) {
    select.append(new Option(`${instance.name} (${instance.slug})`, instance.id));
  }
  select.append(new Option("Don't allow", ''));
  select.value = instances[0].id;                  // the first connection, preselected
  select.addEventListener('change', updateButtons);
  li.append(select);
  return li;
}

function renderMcps(entries) {
  $('consent-mcp-box').hidden = entries.length === 0;
  $('consent-mcps').replaceChildren(...entries.map(mcpChoice));
  updateMcpChoices();
}

function updateMcpChoices() {
  const off = !ticked().includes('mcp');
  for (const select of document.querySelectorAll('select[data-mcp]')) select.disabled = off;
}

// What the companion tells about the servers asked for; an older one only echoes the request.
function mcpEntries() {
  if (Array.isArray(review.mcps)) return review.mcps;
  return (review.requested?.mcps ?? []).map((requested) => ({ requested, server: null,
    instances: [] }));
}

function render() {
  $('consent-origin').textContent = review.app_name
    ? `${review.app_name} (${review.origin})` : review.origin;
  $('consent-origin').title = review.origin;
  document.title = `Bodhi: allow ${review.origin}?`;
  $('consent-reason-box').hidden = !review.reason;
  $('consent-reason').textContent = review.reason ?? '';
  renderScopes(review.requested?.scopes ?? []);
  renderMcps(mcpEntries());
  renderModels();
  updateButtons();
}

async function decide(action, params) {
  for (const button of document.querySelectorAll('button')) button.disabled = true;
  try {
    await callBackground(action, { id: requestId, ...params });
    window.close();
  } catch (err) {
    fail(err);
    updateButtons();
    $('consent-deny').disabled = false;
  }
}

function allow(remember) {
  decide('approve', { scopes: chosenScopes(), models: chosenModels(), mcps: boundMcps(),
    remember, defaultModel: $('consent-default-model').value || null });
}

$('consent-allow-once').addEventListener('click', () => allow(false));
$('consent-allow-always').addEventListener('click', () => allow(true));
$('consent-deny').addEventListener('click', () => decide('deny', {}));

window.addEventListener('focus', rearm);
window.addEventListener('blur', rearm);
document.addEventListener('visibilitychange', rearm);
rearm();

subscribe((event) => {
  if (event.type === 'access_request.updated' && event.data?.id === requestId
      && event.data.status !== 'draft') {
    window.close();                        // decided elsewhere, or expired
  }
});

callBackground('review', { id: requestId })
  .then((result) => { review = result; render(); document.body.dataset.ready = 'true'; })
  .catch(fail);
