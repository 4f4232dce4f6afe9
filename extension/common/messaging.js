// How extension pages (popup, consent window, options) talk to the background: one request,
// one reply, with an id and a timeout; and a Port for live events.
import { PORT_UI, api } from './config.js';
import { Code, ExtensionError, reviveError } from './errors.js';

let counter = 0;

export function callBackground(action, params = {}, { timeout = 30_000 } = {}) {
  const id = `ui-${Date.now().toString(36)}-${++counter}`;
  const reply = api.runtime.sendMessage({ kind: 'ui', id, action, params });
  const expired = new Promise((_, reject) => setTimeout(() => reject(
    new ExtensionError(Code.TIMEOUT, `${action}: no answer in ${timeout / 1000} s`)), timeout));
  return Promise.race([reply, expired]).then((message) => {
    if (!message || message.id !== id) throw new ExtensionError(Code.BAD_REQUEST, 'bad reply');
    if (!message.ok) throw reviveError(message.error);
    return message.result;
  });
}

/** Calls onEvent({type, data}) for every companion or extension event until the page closes. */
export function subscribe(onEvent) {
  const port = api.runtime.connect({ name: PORT_UI });
  port.onMessage.addListener((message) => onEvent(message));
  return () => port.disconnect();
}
