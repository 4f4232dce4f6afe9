// What the local tabs of the Models page share: the local aliases (user, model-file and
// built-in), the key that ties an alias to its file, a reload that follows live events without
// reloading once per event, and the note shown to a role that may only look.
import { html, useEffect, useRef } from '../lib.js';
import { allPages } from '../api.js';
import { useEvents } from '../events.js';

export const LOCAL_SOURCES = ['user', 'model', 'embedded'];
export const SOURCE_NAMES = { user: 'yours', model: 'model file', embedded: 'built-in' };

/** Every alias over a local GGUF file, as the caller may see them (any role). */
export async function localAliases() {
  return (await allPages('/bodhi/v1/models'))
    .filter((model) => LOCAL_SOURCES.includes(model.source));
}

export function fileKey(repo, filename) {
  return `${repo}/${filename}`;
}

/** The aliases of each file, by fileKey. */
export function aliasesByFile(aliases) {
  const byFile = new Map();
  for (const alias of aliases ?? []) {
    const key = fileKey(alias.repo, alias.filename);
    byFile.set(key, [...(byFile.get(key) ?? []), alias.alias]);
  }
  return byFile;
}

/**
 * Runs `reload` after events of `types`, at most once per `pause` ms: a burst of events (a
 * model starting, a request beginning and ending) becomes one look at the server.
 */
export function useEventReload(types, reload, pause = 250) {
  const timer = useRef(null);
  useEffect(() => () => clearTimeout(timer.current), []);
  useEvents(types, () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      reload();
    }, pause);
  });
}

/** For a tab whose data only a power user may see. */
export function PowerUsersOnly({ what }) {
  return html`<p class="muted" data-testid="power-users-only">Only a power user or above can
    see ${what}.</p>`;
}

/** A short summary of an alias's request and launch settings for a table cell. */
export function settingsSummary(alias) {
  const params = Object.entries(alias.request_params ?? {})
    .map(([name, value]) => `${name}=${Array.isArray(value) ? value.join('|') : value}`);
  return [...params, ...(alias.context_params ?? [])].join(', ');
}
