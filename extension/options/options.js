// The options page: where the companion listens (default http://127.0.0.1:1135).
import { callBackground } from '../common/messaging.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

callBackground('getSettings').then(({ serverUrl }) => {
  $('server-url').value = serverUrl;
  document.body.dataset.ready = 'true';
});

$('settings-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const { serverUrl } = await callBackground('setSettings', { serverUrl: $('server-url').value });
    $('settings-status').textContent = `Saved: ${serverUrl}`;
    $('settings-status').className = 'status-ok';
  } catch (err) {
    $('settings-status').textContent = `Not saved: ${err.message}`;
    $('settings-status').className = 'error';
  }
});
