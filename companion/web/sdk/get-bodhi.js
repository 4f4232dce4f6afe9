// @ts-check
// getBodhi(): window.bodhi once the Bodhi extension's bridge is there, for pages that may
// run without the extension. Copy this file next to your page (or load it from your
// companion at /ui/sdk/get-bodhi.js); types in get-bodhi.d.ts and bodhi.d.ts.
//
//   import { getBodhi } from './get-bodhi.js';
//   try {
//     const bodhi = await getBodhi({ timeout: 2000 });
//   } catch (e) {
//     if (e.code === 'not_installed') { /* show how to install the extension */ }
//   }
//
// It resolves as soon as window.bodhi exists, whatever the companion's state (unreachable,
// not paired: ask bodhi.serverState()). The extension defines window.bodhi before the page's
// first script, so this waits only on pages where it comes later (a frame, a slow start).

const POLL_MS = 50;                       // bodhi:ready may have fired before we listened

/**
 * @param {{timeout?: number}} [options] milliseconds to wait (default 1000)
 * @returns {Promise<import('./bodhi.js').Bodhi>}
 */
export function getBodhi({ timeout = 1000 } = {}) {
  if (window.bodhi) return Promise.resolve(window.bodhi);
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!window.bodhi) return;
      stop();
      resolve(window.bodhi);
    };
    const poll = setInterval(check, POLL_MS);
    const timer = setTimeout(() => {
      stop();
      if (window.bodhi) resolve(window.bodhi);
      else reject(notInstalled(timeout));
    }, timeout);
    const stop = () => {
      clearInterval(poll);
      clearTimeout(timer);
      window.removeEventListener('bodhi:ready', check);
    };
    window.addEventListener('bodhi:ready', check);
  });
}

/**
 * An Error shaped like a BodhiError (the extension, which defines that class, is absent).
 * @param {number} timeout
 */
function notInstalled(timeout) {
  const error = new Error(`window.bodhi did not appear within ${timeout} ms: `
    + 'the Bodhi extension is not installed or not enabled for this page');
  error.name = 'BodhiError';
  return Object.assign(error, { code: 'not_installed' });
}
