// The first-run guide: when a page asks for access (with a click) but the extension is not
// paired or the companion is not running, the background opens guide/guide.html instead of
// failing. The user starts the companion and pairs there (through the native host, or with a
// code from `bodhi pair`); the guide then tells the background to continue, the window
// closes and the page's request goes on to the consent window. Closing the guide rejects with
// `setup_cancelled`; leaving it open longer than GUIDE_TIMEOUT_MS rejects with `timeout`.
//
// One guide window at a time: requests of other pages meanwhile wait for the same window.
import { api } from '../common/config.js';
import { Code, ExtensionError } from '../common/errors.js';
import { serverState } from './state.js';

export const GUIDE_TIMEOUT_MS = 10 * 60_000;   // as long as a consent window may wait
const WIDTH = 440;
const HEIGHT = 600;

let current = null;            // {windowId, waiters: Set<{resolve, reject}>, timer} | null
let opening = null;            // the promise of the window being created

function close(guide) {
  if (current === guide) current = null;
  clearTimeout(guide.timer);
  if (guide.windowId !== null) api.windows.remove(guide.windowId).catch(() => {});
}

function rejectAll(guide, error) {
  close(guide);
  for (const waiter of guide.waiters) waiter.reject(error);
  guide.waiters.clear();
}

async function openWindow(origin) {
  const guide = { windowId: null, waiters: new Set(), timer: null };
  current = guide;
  const query = new URLSearchParams({ site: origin });
  const url = api.runtime.getURL(`guide/guide.html?${query}`);
  try {
    guide.windowId = (await api.windows.create({ url, type: 'popup', width: WIDTH,
      height: HEIGHT })).id;
  } catch (err) {
    rejectAll(guide, new ExtensionError(Code.SETUP_CANCELLED,
      `the setup window did not open: ${err?.message ?? err}`));
    return guide;
  }
  guide.timer = setTimeout(() => rejectAll(guide, new ExtensionError(Code.TIMEOUT,
    `the setup was not finished within ${GUIDE_TIMEOUT_MS / 60_000} minutes`)),
  GUIDE_TIMEOUT_MS);
  if (current !== guide) close(guide);           // settled while it was opening
  return guide;
}

/**
 * Resolves once the companion runs and the extension is paired, after the user went through
 * the guide window; rejects with `setup_cancelled` when they close it. `signal`: the page
 * went away, so its request is dropped (and the window closed when no other page waits).
 */
export async function untilReady(origin, signal) {
  let guide = current;
  if (guide === null) {
    opening ??= openWindow(origin).finally(() => { opening = null; });
    guide = await opening;
  } else if (guide.windowId !== null) {
    api.windows.update(guide.windowId, { focused: true }).catch(() => {});
  }
  return new Promise((resolve, reject) => {
    if (current !== guide) {                       // it could not open, or already ended
      reject(new ExtensionError(Code.SETUP_CANCELLED, 'the setup window was closed'));
      return;
    }
    const onAbort = () => {
      guide.waiters.delete(waiter);
      reject(new ExtensionError(Code.ABORTED, 'the page went away'));
      if (guide.waiters.size === 0) close(guide);
    };
    const done = (settle) => (value) => {
      signal?.removeEventListener('abort', onAbort);
      settle(value);
    };
    const waiter = { resolve: done(resolve), reject: done(reject) };
    guide.waiters.add(waiter);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The guide window reports that the companion is ready and paired: the background checks it
 * itself, then lets the waiting requests go on (to their consent windows) and closes the
 * guide. Answers {continued: false} while the companion is not ready after all.
 */
export async function proceed() {
  const state = await serverState();
  const guide = current;
  if (state.status !== 'ready') return { continued: false, status: state.status };
  if (guide === null) return { continued: false, status: state.status };
  close(guide);
  for (const waiter of guide.waiters) waiter.resolve();
  guide.waiters.clear();
  return { continued: true, status: state.status };
}

/** Closing the guide window gives up the setup. */
api.windows.onRemoved.addListener((windowId) => {
  if (current !== null && current.windowId === windowId) {
    current.windowId = null;
    rejectAll(current, new ExtensionError(Code.SETUP_CANCELLED,
      'the user closed the Bodhi setup window before finishing it'));
  }
});
