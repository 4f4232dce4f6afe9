// The background: owns the native port, every companion call and every secret. Two doors:
// pages on 'bodhi-page' ports (one request each) and 'bodhi-events' ports (a listening frame),
// the origin always from the browser, and the extension's own pages on runtime messages plus
// 'bodhi-ui' ports (live events). Listeners register at top level so
// a restarted service worker receives the event that woke it.
import { PORT_EVENTS, PORT_PAGE, PORT_UI, api } from '../common/config.js';
import { Code, ExtensionError, serializeError } from '../common/errors.js';
import * as events from './events.js';
import { syncGlobalScript } from './language_model.js';
import { servePagePort } from './page_api.js';
import { servePageEvents } from './page_events.js';
import { UI_ACTIONS } from './ui_api.js';

const extensionBase = api.runtime.getURL('');

function fromOurPage(sender) {
  return sender?.id === api.runtime.id && String(sender?.url ?? '').startsWith(extensionBase);
}

async function answerUi(message, sender) {
  try {
    if (!fromOurPage(sender)) throw new ExtensionError(Code.BAD_REQUEST, 'not an extension page');
    const handler = Object.hasOwn(UI_ACTIONS, message.action) ? UI_ACTIONS[message.action] : null;
    if (!handler) throw new ExtensionError(Code.BAD_REQUEST, `unknown action ${message.action}`);
    return { id: message.id, ok: true, result: await handler(message.params ?? {}) };
  } catch (err) {
    return { id: message.id, ok: false, error: serializeError(err) };
  }
}

api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (message?.kind !== 'ui') return false;
  answerUi(message, sender).then(sendResponse);
  return true;                                   // the reply comes asynchronously
});

function serveUiPort(port) {
  const unsubscribe = events.subscribe((event) => port.postMessage(event));
  port.onDisconnect.addListener(unsubscribe);
}

api.runtime.onConnect.addListener((port) => {
  if (port.name === PORT_PAGE && !fromOurPage(port.sender)) servePagePort(port);
  else if (port.name === PORT_EVENTS && !fromOurPage(port.sender)) servePageEvents(port);
  else if (port.name === PORT_UI && fromOurPage(port.sender)) serveUiPort(port);
  else port.disconnect();
});


// The window.LanguageModel script follows the setting; registrations persist, but an update of
// the extension drops them.
api.runtime.onInstalled.addListener(() => { syncGlobalScript().catch(console.error); });
api.runtime.onStartup.addListener(() => { syncGlobalScript().catch(console.error); });
