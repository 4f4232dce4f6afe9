// What window.bodhi.LanguageModel (inpage/language_model.js) needs beyond window.bodhi's public
// calls: whether this origin could prompt at all, the model its sessions use with that model's
// context size, and token counts. Plus the options page's setting that also installs it as
// window.LanguageModel, done by registering one more MAIN-world content script.
import { api } from '../common/config.js';
import { Code, ExtensionError } from '../common/errors.js';
import { INFERENCE_HEADERS_TIMEOUT_MS, apiError, withCredential } from './companion.js';
import { appFetch, currentToken } from './grants.js';
import { serverState } from './state.js';
import * as store from './store.js';

/**
 * The model a request that names none goes to: the one the user picked for this site in the
 * consent window while the grant still allows it, else the grant's first model, else the
 * user's first model (listed with the extension's own credential: the page's grant need not
 * include the `models` scope).
 */
export async function defaultModel(origin) {
  const entry = await currentToken(origin);
  const allowed = Array.isArray(entry.models) && entry.models.length ? entry.models : null;
  const chosen = await store.defaultModelFor(origin);
  if (chosen && (!allowed || allowed.includes(chosen))) return chosen;
  if (allowed) return allowed[0];
  const listing = await withCredential('/v1/models');
  const first = listing.data?.[0]?.id;
  if (!first) throw new ExtensionError(Code.API_ERROR, 'no model is available', { status: 404 });
  return first;
}

/**
 * 'unavailable' (no companion, or not paired), 'downloadable' (no grant with `chat` yet:
 * create() will ask the user, which needs a click, as Chrome's download does) or 'available'.
 */
async function availability(origin) {
  const { status } = await serverState();
  if (status !== 'ready') return { availability: 'unavailable' };
  const entry = await store.tokenFor(origin);
  return { availability: entry?.scopes?.includes('chat') ? 'available' : 'downloadable' };
}

// The context a session of `model` has: the alias's --ctx-size when it sets one (every slot of
// a child shares the whole context), else the trained context length from the GGUF metadata
// (Ollama's show). Asked with the extension's credential; the model is one the grant allows.
// null when it is not known (a remote model).
async function contextSize(model) {
  try {
    const page = await withCredential('/bodhi/v1/models?page_size=100');
    const flags = (page.data ?? []).find((m) => m.alias === model)?.context_params ?? [];
    const set = ctxSizeFlag(flags.join(' '));
    if (set) return set;
    const shown = await withCredential('/api/show', { method: 'POST', body: { model } });
    const info = shown.model_info ?? {};
    const size = info[`${info['general.architecture']}.context_length`];
    return Number.isInteger(size) && size > 0 ? size : null;
  } catch {
    return null;
  }
}

function ctxSizeFlag(flags) {
  const found = /(?:^|\s)(?:--ctx-size|-c)(?:=|\s+)(\d+)/.exec(flags);
  const size = found ? Number(found[1]) : 0;
  return size > 0 ? size : null;
}

async function sessionModel(origin) {
  const model = await defaultModel(origin);
  return { model, context_size: await contextSize(model) };
}

// OpenAI messages as the Anthropic count_tokens body: system text apart, the rest in turns.
function countBody(model, messages) {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
  const turns = messages.filter((m) => m.role !== 'system')
    .map((m) => ({ role: m.role, content: m.content }));
  return { model, messages: turns, ...(system ? { system } : {}) };
}

async function countTokens(origin, { model, messages }, { signal }) {
  if (!Array.isArray(messages) || !messages.every((m) => typeof m?.content === 'string'
      && ['system', 'user', 'assistant'].includes(m.role))) {
    throw new ExtensionError(Code.API_ERROR, 'messages must be {role, content} with text content',
      { status: 400 });
  }
  if (!messages.length) return { tokens: 0 };
  const response = await appFetch(origin, '/anthropic/v1/messages/count_tokens', {
    method: 'POST', body: countBody(model ?? await defaultModel(origin), messages), signal,
    timeout: INFERENCE_HEADERS_TIMEOUT_MS,
  });
  if (!response.ok) throw await apiError(response);
  return { tokens: (await response.json()).input_tokens };
}

export const PAGE_ACTIONS = {
  'languageModel.availability': (origin) => availability(origin),
  'languageModel.model': (origin) => sessionModel(origin),
  'languageModel.countTokens': countTokens,
};

// --- window.LanguageModel (the options page's setting) ---

const GLOBAL_SCRIPT_ID = 'bodhi-global-language-model';

// In the same frames as window.bodhi itself (the manifest's entry for inpage/bodhi.js).
function globalScript() {
  const inpage = api.runtime.getManifest().content_scripts
    ?.find((entry) => entry.js?.includes('inpage/bodhi.js'));
  return { id: GLOBAL_SCRIPT_ID, matches: ['http://*/*', 'https://*/*'],
    js: ['inpage/language_model_global.js'], runAt: 'document_start', world: 'MAIN',
    allFrames: inpage?.all_frames === true };
}

/** Registers the window.LanguageModel script while the setting is on, and only then. */
export async function syncGlobalScript() {
  const on = await store.globalLanguageModel();
  const found = await api.scripting.getRegisteredContentScripts({ ids: [GLOBAL_SCRIPT_ID] });
  if (on && !found.length) await api.scripting.registerContentScripts([globalScript()]);
  if (!on && found.length) await api.scripting.unregisterContentScripts({ ids: [GLOBAL_SCRIPT_ID] });
}
