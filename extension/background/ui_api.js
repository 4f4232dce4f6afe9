// What the extension's own pages (popup, consent window, options) may ask for. Only messages
// whose sender is one of our pages reach this table (checked in main.js).
import { api } from '../common/config.js';
import { Code, ExtensionError } from '../common/errors.js';
import { companionJson, withCredential } from './companion.js';
import * as consent from './consent.js';
import * as events from './events.js';
import * as guide from './guide.js';
import { syncGlobalScript } from './language_model.js';
import { revokeGrant } from './grants.js';
import { callNative } from './native.js';
import { nativeState, serverState } from './state.js';
import * as store from './store.js';

// start, and pair or open when the companion is not running yet (the host starts it first).
const START_TIMEOUT_MS = 90_000;

async function status() {
  let [server, native] = await Promise.all([serverState(), nativeState()]);
  // Nothing answers at the stored URL, but the native host vouches for the companion at
  // another one (it proved it holds the owner secret): that is where it runs.
  if (server.status === 'unreachable' && native.running && native.url
      && native.url !== server.url) {
    await store.setServerUrl(native.url);
    events.restart();
    server = await serverState();
  }
  return { server, native, paired: Boolean(await store.credential()) };
}

async function start() {
  const result = await callNative('start', {}, START_TIMEOUT_MS);
  if (result.url) await store.setServerUrl(result.url);
  events.restart();
  events.emitLocal('server.state', { status: 'ready' });
  return result;
}

async function adoptCredential(credential, url) {
  if (url) await store.setServerUrl(url);
  await store.setCredential(credential);
  events.restart();
  events.emitLocal('extension.paired', {});
  return { paired: true, url: await store.serverUrl() };
}

async function pairNative() {
  const result = await callNative('pair', {}, START_TIMEOUT_MS);
  return adoptCredential(result.credential, result.url);
}

async function pairCode({ code }) {
  if (typeof code !== 'string' || !code.trim()) {
    throw new ExtensionError(Code.BAD_REQUEST, 'enter the code shown by `bodhi pair`');
  }
  const result = await companionJson('/bodhi/v1/apps/extension/pair', {
    method: 'POST', body: { code: code.trim().toUpperCase(), extension_id: api.runtime.id,
      browser: globalThis.browser ? 'firefox' : 'chromium' },
  });
  return adoptCredential(result.credential, null);
}

async function unpair() {
  await store.forgetPairing();
  events.restart();
  events.emitLocal('extension.unpaired', {});
  return { paired: false };
}

// The web UI signed in as the owner: the native host mints a one-time owner link (starting the
// companion first if need be). Without the native host there is no owner proof to mint one, so
// the UI opens on its sign-in page, which says how to sign in.
async function openWebUi() {
  try {
    const { url } = await callNative('open', {}, START_TIMEOUT_MS);
    await api.tabs.create({ url });
    return { opened: true, signedIn: true };
  } catch (err) {
    if (err?.code !== Code.NATIVE_HOST_MISSING) throw err;
    await api.tabs.create({ url: `${await store.serverUrl()}/ui/` });
    return { opened: true, signedIn: false };
  }
}

// The companion's grants, each with the default model the user picked for its site here.
async function grants() {
  const page = await withCredential('/bodhi/v1/apps/grants?page_size=100');
  const defaults = await store.defaultModels();
  return { ...page, data: page.data.map((g) => ({ ...g, default_model: defaults[g.app] ?? null })) };
}

async function revoke({ id }) {
  const grant = await revokeGrant(id);
  events.emitLocal('grant.revoked', { id });
  return grant;
}

async function focusRequest({ id }) {
  const entry = consent.list().find((r) => r.id === id);
  if (entry) await api.windows.update(entry.window_id, { focused: true });
  return { focused: Boolean(entry) };
}

async function getSettings() {
  return { serverUrl: await store.serverUrl(),
    globalLanguageModel: await store.globalLanguageModel() };
}

// Either setting alone may come: the form saves the URL, the checkbox saves itself.
async function setSettings({ serverUrl, globalLanguageModel }) {
  if (serverUrl !== undefined) {
    await store.setServerUrl(serverUrl);
    events.restart();
  }
  if (globalLanguageModel !== undefined) {
    await store.setGlobalLanguageModel(globalLanguageModel);
    await syncGlobalScript();
  }
  return getSettings();
}

export const UI_ACTIONS = {
  status,
  start,
  pairNative,
  pairCode,
  unpair,
  openWebUi,
  review: (params) => consent.review(params),
  approve: (params) => consent.approve(params),
  deny: (params) => consent.deny(params),
  pending: () => consent.list(),
  focusRequest,
  guideDone: () => guide.proceed(),
  grants,
  revoke,
  getSettings,
  setSettings,
};
