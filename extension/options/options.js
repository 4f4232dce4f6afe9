// The options page: where the companion listens (default http://127.0.0.1:1135), and whether
// pages also get window.bodhi.LanguageModel as window.LanguageModel (off by default).
import { callBackground } from '../common/messaging.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

function saved(text, ok) {
  $('settings-status').textContent = text;
  $('settings-status').className = ok ? 'status-ok' : 'error';
}

callBackground('getSettings').then(({ serverUrl, globalLanguageModel }) => {
  $('server-url').value = serverUrl;
  $('global-language-model').checked = globalLanguageModel === true;
  document.body.dataset.ready = 'true';
});

$('settings-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const { serverUrl } = await callBackground('setSettings', { serverUrl: $('server-url').value });
    saved(`Saved: ${serverUrl}`, true);
  } catch (err) {
    saved(`Not saved: ${err.message}`, false);
  }
});

$('global-language-model').addEventListener('change', async (event) => {
  const on = event.target.checked;
  try {
    await callBackground('setSettings', { globalLanguageModel: on });
    saved(on ? 'Saved: pages get window.LanguageModel' : 'Saved: no window.LanguageModel', true);
  } catch (err) {
    event.target.checked = !on;
    saved(`Not saved: ${err.message}`, false);
  }
});
