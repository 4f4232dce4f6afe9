// What the background keeps in storage.local: the server URL, the extension credential, one
// app token set per origin, the model the user chose per origin, and the user's settings. Pages never see any of it; on Chromium even content scripts are
// kept out (TRUSTED_CONTEXTS).
import { DEFAULT_SERVER_URL, api } from '../common/config.js';

const local = api.storage.local;
// Chromium only; Firefox keeps storage away from pages anyway.
local.setAccessLevel?.({ accessLevel: 'TRUSTED_CONTEXTS' })?.catch?.(() => {});

const KEYS = { serverUrl: 'serverUrl', credential: 'credential', tokens: 'appTokens',
  defaultModels: 'defaultModels', globalLanguageModel: 'globalLanguageModel' };

async function get(key, fallback) {
  const stored = await local.get(key);
  return stored[key] ?? fallback;
}

export async function serverUrl() {
  return (await get(KEYS.serverUrl, DEFAULT_SERVER_URL)).replace(/\/+$/, '');
}

export async function setServerUrl(url) {
  const parsed = new URL(url);                       // throws on nonsense
  if (!['http:', 'https:'].includes(parsed.protocol)) throw new TypeError('http(s) URL needed');
  await local.set({ [KEYS.serverUrl]: parsed.origin });
}

export const credential = () => get(KEYS.credential, null);
export const setCredential = (value) => local.set({ [KEYS.credential]: value });

// Token entries of every origin live under one key, so each change is a read-modify-write.
// Changes run one after another: two origins refreshing at once must not each write back the
// other's old entry (its refresh token already spent), or that origin's next refresh would
// look like a stolen token to the companion and end its tokens.
let changes = Promise.resolve();

function serialised(change) {
  const run = changes.then(change);
  changes = run.catch(() => {});
  return run;
}

function changeTokens(edit) {
  return serialised(async () => {
    const all = await tokens();
    edit(all);
    await local.set({ [KEYS.tokens]: all });
  });
}

// Why each origin's tokens were last dropped ('revoked' | 'expired'), for page events. Kept in
// memory only: after a restart of the background a page learns it as 'revoked'.
const endings = new Map();

export const endingOf = (origin) => endings.get(origin) ?? null;

export function forgetPairing() {
  return serialised(async () => {
    for (const origin of Object.keys(await tokens())) endings.set(origin, 'revoked');
    await local.remove([KEYS.credential, KEYS.tokens]);
  });
}

export async function tokens() {
  return get(KEYS.tokens, {});
}

export async function tokenFor(origin) {
  return (await tokens())[origin] ?? null;
}

export function saveToken(origin, entry) {
  endings.delete(origin);
  return changeTokens((all) => { all[origin] = entry; });
}

/** Drops the tokens of one origin, or of every origin holding the given grant; `reason`
 *  ('revoked' | 'expired') is why. */
export function dropTokens({ origin, grantId, reason = 'revoked' }) {
  return changeTokens((all) => {
    for (const [key, entry] of Object.entries(all)) {
      if (key === origin || (grantId && entry.grant_id === grantId)) {
        delete all[key];
        endings.set(key, reason);
      }
    }
  });
}

// The model the user picked in the consent window for a site: used when its requests name none.
// Kept apart from the tokens so a refreshed or re-granted token keeps the choice.
export const defaultModels = () => get(KEYS.defaultModels, {});

export async function defaultModelFor(origin) {
  return (await defaultModels())[origin] ?? null;
}

export function setDefaultModel(origin, model) {
  return serialised(async () => {
    const all = await get(KEYS.defaultModels, {});
    if (model) all[origin] = model; else delete all[origin];
    await local.set({ [KEYS.defaultModels]: all });
  });
}

/** The options page's "install window.LanguageModel" setting; off unless the user turned it on. */
export const globalLanguageModel = async () => (await get(KEYS.globalLanguageModel, false)) === true;
export const setGlobalLanguageModel = (on) => local.set({ [KEYS.globalLanguageModel]: on === true });
