// The first-run guide. Opened by the background as a window when a page asks for access
// before Bodhi is set up (?site=<origin>), or in place of the popup on a fresh install
// (?popup=1). It shows what is missing (the companion not running, this browser not paired)
// and the one thing to do next; once the companion is ready and paired it hands over: the
// window asks the background to continue to the consent window, the popup goes back to itself.
import { setText } from '../common/dom.js';
import { callBackground, subscribe } from '../common/messaging.js';
import { pairingFailure, triesLeft } from '../common/pairing.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const query = new URLSearchParams(window.location.search);
const site = query.get('site');
const inPopup = query.has('popup');
const POLL_MS = 3000;               // the user may start or pair from a terminal meanwhile
const STARTING = { timeout: 120_000 };  // the native host may start the companion first

let busy = false;
let rendering = false;
let handedOver = false;

function showError(text) {
  setText($('guide-error'), text ?? '');
}

function setSteps(current) {
  const order = ['start', 'pair', 'allow'];
  const at = order.indexOf(current);
  order.forEach((step, index) => {
    $(`step-${step}`).dataset.state = index < at ? 'done' : index === at ? 'current' : 'todo';
  });
}

function show({ step, title, text, start = false, pair = false, recheck = false,
  nativeMissing = false, code = false }) {
  setSteps(step);
  $('guide-title').textContent = title;
  setText($('guide-text'), text);
  $('guide-start').hidden = !start;
  $('guide-pair').hidden = !pair;
  $('guide-recheck').hidden = !recheck;
  $('guide-native-missing').hidden = !nativeMissing;
  $('guide-code-form').hidden = !code;
  document.body.dataset.state = step;
}

// What the user sees for each state of the companion and the native helper.
function view({ server, native, paired }) {
  const missing = !native.available && native.error?.code === 'native_host_missing';
  if (native.error?.code === 'not_companion') {
    return { step: 'start', title: 'Another program answers on the companion\'s port',
      text: native.error.message, recheck: true };
  }
  if (server.status === 'unreachable' && native.available) {
    return { step: 'start', title: 'The Bodhi companion is not running',
      text: 'It runs the models on this computer. Once started it keeps running in the ' +
        'background, also after this window closes.', start: true };
  }
  if (server.status === 'unreachable') {
    return { step: 'start', title: 'The Bodhi companion does not answer',
      text: `Nothing answers at ${server.url}. Start it in a terminal with \`bodhi serve\`, ` +
        'then check again.', recheck: true, nativeMissing: missing };
  }
  if (!paired || server.status === 'not-paired') {
    return { step: 'pair', title: 'Pair this browser with the companion',
      text: 'The companion is running. Pair once, so that it takes requests from this ' +
        'browser — for the sites you allow, and only those.',
      pair: native.available, nativeMissing: missing, code: !native.available };
  }
  return { step: 'allow', title: 'Bodhi is ready',
    text: site ? 'Opening the consent window for the site…'
      : 'Pages you allow can now use your models.' };
}

async function handOver() {
  if (handedOver) return;
  handedOver = true;
  if (inPopup) {
    window.location.replace('../popup/popup.html');
    return;
  }
  // The background checks readiness itself, opens the consent window and closes this one.
  const result = await callBackground('guideDone').catch((err) => {
    handedOver = false;
    throw err;
  });
  if (result.status !== 'ready') {
    handedOver = false;                 // not ready after all: the next render shows why
  } else if (!result.continued) {       // no page waits for it (any more)
    setText($('guide-text'), 'Pages you allow can now use your models. You can close this ' +
      'window.');
  }
}

async function render() {
  if (busy || rendering || (handedOver && !inPopup)) return;
  rendering = true;
  try {
    const shown = view(await callBackground('status'));
    show(shown);
    document.body.dataset.rendered = String(Date.now());
    if (shown.step === 'allow') await handOver();
  } catch (err) {
    showError(`${err.message} (${err.code ?? 'error'})`);
  } finally {
    rendering = false;
  }
}

async function act(action, params, options, describe = (err) => `${err.message} (${err.code})`) {
  showError(null);
  busy = true;
  for (const button of document.querySelectorAll('button')) button.disabled = true;
  try {
    await callBackground(action, params, options);
  } catch (err) {
    showError(describe(err));
    document.body.dataset.triesLeft = String(triesLeft(err) ?? '');
  } finally {
    busy = false;
    for (const button of document.querySelectorAll('button')) button.disabled = false;
    while (rendering) await new Promise((resolve) => setTimeout(resolve, 50));
    await render();
  }
}

$('guide-start').addEventListener('click', () => act('start', {}, STARTING));
$('guide-pair').addEventListener('click', () => act('pairNative', {}, STARTING));
$('guide-recheck').addEventListener('click', () => { showError(null); render(); });
$('guide-code-form').addEventListener('submit', (event) => {
  event.preventDefault();
  act('pairCode', { code: $('guide-code').value }, {}, pairingFailure);
});

if (site) {
  $('guide-site').textContent = site;
  $('guide-site-box').hidden = false;
  document.title = `Bodhi: set up for ${site}`;
} else {
  $('guide-intro').hidden = false;
  $('step-allow').textContent = 'Let the sites you choose use your models';
}
document.body.classList.toggle('in-popup', inPopup);
$('guide-cancel-note').hidden = !site;
$('guide-details').hidden = !inPopup;

subscribe(() => render());
setInterval(render, POLL_MS);
render();
