// @ts-check
// The window.bodhi demo: what a web page does to use the user's own models through the Bodhi
// extension. Find the extension (getBodhi), ask for access from a click (requestAccess),
// then chat with a streamed answer and a Stop button, compare two sentences by embeddings,
// run a Prompt API session (bodhi.LanguageModel), and call an MCP tool. Every failure is a
// BodhiError with a stable `code`; this page shows it as it comes.
//
// Types: ../sdk/bodhi.d.ts (checked against this file by `tsc --checkJs`).
import { getBodhi } from '../sdk/get-bodhi.js';

/** @typedef {import('../sdk/bodhi.js').Bodhi} Bodhi */
/** @typedef {import('../sdk/bodhi.js').BodhiError} BodhiError */
/** @typedef {import('../sdk/bodhi.js').ChatMessage} ChatMessage */
/** @typedef {import('../sdk/bodhi.js').AccessRequest} AccessRequest */
/** @typedef {import('../sdk/bodhi.js').LanguageModel} LanguageModel */

/**
 * The element with this id, checked to be of the expected kind.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{new (): T}} kind
 * @returns {T}
 */
function byId(id, kind) {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`#${id} is missing`);
  return node;
}

/** A failure as one line: the code tells the page what to do, the message is for people. */
function describe(/** @type {unknown} */ error) {
  // The Prompt API fails with DOMExceptions as Chrome's does (AbortError, NotAllowedError…)
  if (error instanceof DOMException) return `${error.name}: ${error.message}`;
  const e = /** @type {Partial<BodhiError>} */ (error);
  if (e.code === 'api_error' && e.status) return `${e.message} (HTTP ${e.status})`;
  if (e.code === 'cooldown' || e.code === 'rate_limited') {
    return `Refused recently: ask again in ${e.retry_after} s.`;
  }
  return e.code ? `${e.code}: ${e.message}` : String(error);
}

/** @param {HTMLElement} where  @param {unknown} error */
function showError(where, error) {
  where.textContent = describe(error);
  where.classList.add('error');
}

// ---- Access: find the extension, say what state things are in, ask from a click ----------

/** @param {string} state  @param {string} text */
function showState(state, text) {
  const line = byId('state', HTMLElement);
  line.dataset.state = state;
  line.textContent = text;
}

/** Looks at the companion and this origin's access, and shows it. */
async function refresh(/** @type {Bodhi} */ bodhi) {
  const connected = await bodhi.getToken().then(() => true, () => false);
  byId('disconnect', HTMLButtonElement).hidden = !connected;
  if (connected) {
    showState('connected', 'Connected: this site may use your models.');
    return;
  }
  const { status, url } = await bodhi.serverState();
  if (status === 'unreachable') {
    showState('unreachable', `The Bodhi companion does not answer at ${url}. Start it `
      + '(bodhi serve), or press Connect and the extension guides you.');
  } else if (status === 'not-paired') {
    showState('not-paired', 'The extension is not paired with your companion yet. Press '
      + 'Connect and it guides you.');
  } else {
    showState('no-access', 'The extension is ready. Press Connect to allow this site.');
  }
}

function setUpAccess(/** @type {Bodhi} */ bodhi) {
  const form = byId('connect-form', HTMLFormElement);
  form.hidden = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();                // a consent window opens only from a user action
    const server = byId('mcp-server', HTMLInputElement).value.trim();
    /** @type {AccessRequest} */
    const ask = { scopes: ['chat', 'embeddings', 'models'],
      reason: 'The Bodhi demo: chat, embeddings, the Prompt API and a tool call' };
    if (server) {
      ask.scopes.push('mcp');
      ask.mcps = [/^https?:\/\//.test(server) ? { url: server } : { name: server }];
    }
    try {
      await bodhi.requestAccess(ask);
      await refresh(bodhi);
    } catch (error) {
      showState('error', describe(error));
    }
  });
  byId('disconnect', HTMLButtonElement).addEventListener('click', async () => {
    await bodhi.revoke();
    await refresh(bodhi);
  });
  // The extension tells the page when the companion's state or this origin's access changes
  // (revoked in the popup, expired, the companion stopped…): no polling needed.
  if ('addEventListener' in bodhi) {
    const seen = byId('last-event', HTMLElement);
    bodhi.addEventListener('statechange', (event) => {
      seen.textContent = `Last event: statechange (${event.detail.state})`;
      refresh(bodhi);
    });
    bodhi.addEventListener('grantchange', (event) => {
      seen.textContent = `Last event: grantchange (${event.detail.state})`;
      refresh(bodhi);
    });
    bodhi.addEventListener('modelschange', (event) => {
      seen.textContent = `Last event: modelschange (${event.detail.models.join(', ')})`;
    });
  }
}

// ---- Chat: a streamed answer, and Stop ----------------------------------------------------

function setUpChat(/** @type {Bodhi} */ bodhi) {
  /** @type {ChatMessage[]} */
  const history = [];                      // the conversation lives in the page
  const log = byId('chat-log', HTMLElement);
  const send = byId('chat-send', HTMLButtonElement);
  const stop = byId('chat-stop', HTMLButtonElement);
  /** @type {AbortController | null} */
  let controller = null;
  stop.addEventListener('click', () => controller?.abort());
  byId('chat-form', HTMLFormElement).addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = byId('chat-input', HTMLTextAreaElement);
    if (!input.value.trim()) return;
    history.push({ role: 'user', content: input.value.trim() });
    addMessage(log, 'You', input.value.trim());
    const answer = addMessage(log, 'Model', '');
    controller = new AbortController();
    [send.disabled, stop.disabled] = [true, false];
    try {
      const stream = await bodhi.chat.completions.create(
        { messages: history, stream: true, max_tokens: 400 }, { signal: controller.signal });
      for await (const chunk of stream) {
        answer.textContent += chunk.choices[0]?.delta?.content ?? '';
      }
    } catch (error) {
      // Stop aborts the generation on the companion too; the text so far stays.
      const note = addMessage(log, '', '');
      if ((/** @type {BodhiError} */ (error)).code === 'aborted') {
        note.textContent = '(stopped)';
        note.classList.add('muted');
      }
      else showError(note, error);
    } finally {
      history.push({ role: 'assistant', content: answer.textContent ?? '' });
      [send.disabled, stop.disabled, controller] = [false, true, null];
      log.dataset.done = String(history.length);
    }
  });
}

/** @param {HTMLElement} log  @param {string} who  @param {string} text */
function addMessage(log, who, text) {
  const line = document.createElement('p');
  if (who) {
    const name = document.createElement('strong');
    name.textContent = `${who}: `;
    line.append(name);
  }
  const body = document.createElement('span');
  body.textContent = text;                 // never innerHTML: model output is untrusted
  line.append(body);
  log.append(line);
  return body;
}

// ---- Embeddings: cosine similarity of two sentences ---------------------------------------

/** @param {number[]} a  @param {number[]} b */
function cosine(a, b) {
  let [dot, na, nb] = [0, 0, 0];
  a.forEach((x, i) => { dot += x * b[i]; na += x * x; nb += b[i] * b[i]; });
  return dot / Math.sqrt(na * nb);
}

function setUpEmbeddings(/** @type {Bodhi} */ bodhi) {
  const result = byId('embed-result', HTMLElement);
  byId('embed-form', HTMLFormElement).addEventListener('submit', async (event) => {
    event.preventDefault();
    result.classList.remove('error');
    result.textContent = 'Comparing…';
    try {
      const input = ['embed-a', 'embed-b'].map((id) => byId(id, HTMLInputElement).value);
      // Embeddings name their model: here the first one this site may use.
      const model = (await bodhi.models.list()).data[0]?.id;
      const { data } = await bodhi.embeddings.create({ input, model });
      const [a, b] = data.sort((x, y) => x.index - y.index).map((d) => d.embedding);
      result.textContent = `Similarity: ${cosine(a, b).toFixed(3)} (1 = the same direction)`;
    } catch (error) {
      showError(result, error);
    }
  });
}

// ---- The Prompt API: a session that keeps its history in the page -------------------------

function setUpLanguageModel(/** @type {Bodhi} */ bodhi) {
  const answer = byId('lm-answer', HTMLElement);
  const stop = byId('lm-stop', HTMLButtonElement);
  if (!('LanguageModel' in bodhi)) {      // an extension older than the Prompt API
    answer.textContent = 'This version of the extension has no bodhi.LanguageModel.';
    return;
  }
  /** @type {LanguageModel | null} */
  let session = null;
  /** @type {AbortController | null} */
  let controller = null;
  stop.addEventListener('click', () => controller?.abort());
  byId('lm-reset', HTMLButtonElement).addEventListener('click', () => {
    session?.destroy();                    // the next Ask starts a new conversation
    session = null;
    answer.textContent = '';
  });
  byId('lm-form', HTMLFormElement).addEventListener('submit', async (event) => {
    event.preventDefault();
    answer.classList.remove('error');
    answer.textContent = '';
    controller = new AbortController();
    stop.disabled = false;
    try {
      session ??= await bodhi.LanguageModel.create({
        initialPrompts: [{ role: 'system', content: byId('lm-system', HTMLInputElement).value }],
      });
      const stream = session.promptStreaming(byId('lm-input', HTMLInputElement).value,
        { signal: controller.signal });
      for await (const piece of stream) answer.textContent += piece;
      byId('lm-usage', HTMLElement).textContent =
        `This session uses ${session.inputUsage} of ${session.inputQuota} tokens.`;
    } catch (error) {
      // Stop: an AbortError, as in Chrome's API; the session forgets the unfinished answer
      if (error instanceof DOMException && error.name === 'AbortError') {
        answer.append(' (stopped)');
      } else {
        showError(answer, error);
      }
    } finally {
      [stop.disabled, controller] = [true, null];
    }
  });
}

// ---- MCP: list the granted connections' tools, call one -----------------------------------

function setUpMcp(/** @type {Bodhi} */ bodhi) {
  const select = byId('mcp-tool', HTMLSelectElement);
  const result = byId('mcp-result', HTMLElement);
  byId('mcp-load', HTMLButtonElement).addEventListener('click', async () => {
    result.classList.remove('error');
    try {
      select.replaceChildren();
      for (const instance of await bodhi.mcp.list()) {
        for (const tool of (await bodhi.mcp.listTools(instance.id)).tools) {
          const option = new Option(`${tool.name} (${instance.name})`,
            JSON.stringify([instance.id, tool.name]));
          option.title = tool.description ?? '';
          select.append(option);
        }
      }
      result.textContent = select.options.length ? '' : 'No MCP connection was granted: name '
        + 'a server under Access and press Connect again.';
    } catch (error) {
      showError(result, error);
    }
  });
  byId('mcp-form', HTMLFormElement).addEventListener('submit', async (event) => {
    event.preventDefault();
    result.classList.remove('error');
    if (!select.value) { result.textContent = 'Load the tools first.'; return; }
    try {
      const [id, name] = JSON.parse(select.value);
      const args = JSON.parse(byId('mcp-args', HTMLInputElement).value || '{}');
      const called = await bodhi.mcp.callTool(id, name, args, { timeout: 60_000 });
      const text = called.content.map((part) => (part.type === 'text' ? part.text
        : `[${part.type}]`));
      if (called.isError) text.push('(the tool reported an error)');
      result.textContent = text.join('\n');
    } catch (error) {
      showError(result, error);    // a SyntaxError for bad JSON, a BodhiError from Bodhi
    }
  });
}

// ---- Start ---------------------------------------------------------------------------------

async function main() {
  /** @type {Bodhi} */
  let bodhi;
  try {
    bodhi = await getBodhi({ timeout: 2000 });
  } catch {                                // code 'not_installed': no extension in this browser
    showState('missing', 'The Bodhi extension is not installed in this browser.');
    byId('install', HTMLElement).hidden = false;
    for (const card of document.querySelectorAll('.needs-access')) card.toggleAttribute('hidden');
    return;
  }
  setUpAccess(bodhi);
  setUpChat(bodhi);
  setUpEmbeddings(bodhi);
  setUpLanguageModel(bodhi);
  setUpMcp(bodhi);
  await refresh(bodhi).catch((error) => showState('error', describe(error)));
}

main();
