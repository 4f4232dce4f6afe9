// The one native-messaging port (only the background holds it). Requests carry an id; replies
// are matched by id; each call has a timeout. The port closes after a quiet minute so the host
// process does not linger.
import { NATIVE_HOST_NAME, api } from '../common/config.js';
import { Code, ExtensionError } from '../common/errors.js';

const IDLE_CLOSE_MS = 60_000;

let port = null;
let counter = 0;
let idleTimer = null;
const pending = new Map();             // id -> {resolve, reject, timer}

function settleAll(error) {
  for (const { reject, timer } of pending.values()) { clearTimeout(timer); reject(error); }
  pending.clear();
}

function connect() {
  const opened = api.runtime.connectNative(NATIVE_HOST_NAME);
  opened.onMessage.addListener((reply) => {
    const entry = pending.get(reply?.id);
    if (!entry) return;
    pending.delete(reply.id);
    clearTimeout(entry.timer);
    if (reply.ok) entry.resolve(reply.result);
    else entry.reject(new ExtensionError(reply.error?.code ?? Code.API_ERROR, reply.error?.message));
    scheduleClose();
  });
  opened.onDisconnect.addListener((p) => {
    const reason = api.runtime.lastError?.message ?? p?.error?.message ?? 'the native host exited';
    if (port === opened) port = null;
    settleAll(new ExtensionError(Code.NATIVE_HOST_MISSING,
      `native host ${NATIVE_HOST_NAME} is not available (${reason}); ` +
      'run `bodhi install-native-host`'));
  });
  return opened;
}

function scheduleClose() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (pending.size === 0 && port) { port.disconnect(); port = null; }
  }, IDLE_CLOSE_MS);
}

/** Ask the native host to do `action`; resolves its `result`. */
export function callNative(action, params = {}, timeout = 15_000) {
  return new Promise((resolve, reject) => {
    const id = `n${++counter}`;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new ExtensionError(Code.TIMEOUT, `native host: ${action} took over ${timeout / 1000} s`));
    }, timeout);
    pending.set(id, { resolve, reject, timer });
    try {
      port ??= connect();
      port.postMessage({ id, action, ...params });
    } catch (err) {
      pending.delete(id);
      clearTimeout(timer);
      port = null;
      reject(new ExtensionError(Code.NATIVE_HOST_MISSING, String(err?.message ?? err)));
    }
  });
}
