// The companion's state as pages and the popup see it.
import { serverInfo } from './companion.js';
import { callNative } from './native.js';
import * as store from './store.js';

/** {status: 'ready' | 'unreachable' | 'not-paired', version?, url} */
export async function serverState() {
  const url = await store.serverUrl();
  let info;
  try {
    info = await serverInfo();
  } catch {
    return { status: 'unreachable', url };
  }
  // The companion has no setup state any more (it starts ready in local owner mode).
  const paired = Boolean(await store.credential());
  return { status: paired ? 'ready' : 'not-paired', version: info.version, url };
}

/** What the native host says, or why it cannot be asked. */
export async function nativeState() {
  try {
    return { available: true, ...(await callNative('status', {}, 10_000)) };
  } catch (err) {
    return { available: false, error: { code: err.code, message: err.message } };
  }
}
