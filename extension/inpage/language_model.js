// window.bodhi.LanguageModel: Chrome's Prompt API shape (LanguageModel.availability/create, a
// session's prompt/promptStreaming/append/clone/destroy and its token usage), served by the
// user's own models through window.bodhi. Runs in the page's MAIN world just before
// inpage/bodhi.js, which takes LanguageModel from the hand-off slot below into window.bodhi.
//
// A session keeps its conversation here, in the page: every prompt sends the whole history as
// one chat request (window.bodhi.chat). Only three extra questions go to the extension,
// over the same page <-> content script protocol as window.bodhi (docs/extension-protocol.md):
// languageModel.availability, languageModel.model and languageModel.countTokens.
(() => {
  'use strict';
  const EXTRAS = Symbol.for('bodhi.inpage.extras');
  if (window.bodhi !== undefined || window[EXTRAS]) return;

  const TO_CONTENT = 'bodhi:page->content';
  const TO_PAGE = 'bodhi:content->page';
  const ORIGIN = window.location.origin;
  const ASK_TIMEOUT_MS = 5 * 60_000;       // a token count may wait for a cold model load
  const ROLES = ['system', 'user', 'assistant'];
  const PARAMS = Object.freeze({ defaultTopK: 40, maxTopK: 128, defaultTemperature: 0.8,
    maxTemperature: 2 });
  let counter = 0;

  // One request to the extension, one reply; rejects with the BodhiError-like {code, message}.
  function ask(action, params = {}) {
    const id = `lm${Date.now().toString(36)}-${(++counter).toString(36)}`;
    return new Promise((resolve, reject) => {
      const done = (fn, value) => {
        clearTimeout(timer);
        window.removeEventListener('message', onMessage);
        fn(value);
      };
      const onMessage = (event) => {
        const data = event.data;
        if (event.source !== window || event.origin !== ORIGIN || data?.channel !== TO_PAGE
            || data.id !== id) return;
        if (data.type === 'result') done(resolve, data.result);
        else if (data.type === 'error') done(reject, asError(data.error));
      };
      const timer = setTimeout(() => {
        window.postMessage({ channel: TO_CONTENT, id, type: 'abort' }, ORIGIN);
        done(reject, asError({ code: 'timeout', message: `${action} got no answer` }));
      }, ASK_TIMEOUT_MS);
      window.addEventListener('message', onMessage);
      window.postMessage({ channel: TO_CONTENT, id, type: 'request', action, params }, ORIGIN);
    });
  }

  const asError = (e) => {
    const BodhiError = window.bodhi?.BodhiError;
    return BodhiError ? new BodhiError(e?.code || 'api_error', e?.message, e || {})
      : Object.assign(new Error(e?.message || e?.code), { code: e?.code });
  };
  const domError = (name, message) => new DOMException(message, name);
  const abortReason = (signal) => signal?.reason ?? domError('AbortError', 'aborted');

  // The Prompt API's input: a string, or messages whose content is a string or text parts.
  function toMessages(input, { allowSystem = false } = {}) {
    const list = typeof input === 'string' ? [{ role: 'user', content: input }] : input;
    if (!Array.isArray(list)) throw new TypeError('input must be a string or a list of messages');
    return list.map((m, i) => {
      const role = m?.role ?? 'user';
      if (!ROLES.includes(role)) throw new TypeError(`unknown role ${role}`);
      if (role === 'system' && !(allowSystem && i === 0)) {
        throw domError('NotSupportedError', 'a system message may only open initialPrompts');
      }
      return { role, content: textOf(m?.content) };
    });
  }

  function textOf(content) {
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) throw new TypeError('message content must be text');
    return content.map((part) => {
      if (part?.type !== 'text' || typeof part.value !== 'string') {
        throw domError('NotSupportedError', 'only text content is supported');
      }
      return part.value;
    }).join('');
  }

  // Aborts when any of the signals does (AbortSignal.any is newer than some supported browsers).
  function anySignal(signals) {
    const controller = new AbortController();
    for (const s of signals.filter(Boolean)) {
      if (s.aborted) { controller.abort(s.reason); break; }
      s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
    }
    return controller.signal;
  }

  // JSON Schema -> OpenAI response_format (llama.cpp turns it into a grammar).
  function responseFormat(constraint) {
    if (constraint === undefined) return {};
    if (constraint instanceof RegExp) {
      throw domError('NotSupportedError', 'a RegExp responseConstraint is not supported');
    }
    if (!constraint || typeof constraint !== 'object') {
      throw new TypeError('responseConstraint must be a JSON Schema object');
    }
    return { response_format: { type: 'json_schema',
      json_schema: { name: 'response', schema: constraint, strict: true } } };
  }

  const token = Symbol('LanguageModel');

  class LanguageModel extends EventTarget {
    #model; #history; #options; #usage; #quota; #destroyed = false;
    #lifetime = new AbortController();

    constructor(key, state) {
      if (key !== token) throw new TypeError('use LanguageModel.create()');
      super();
      this.#model = state.model;
      this.#history = state.history;
      this.#options = state.options;
      this.#usage = state.usage;
      this.#quota = state.quota;
    }

    static async availability(options = {}) {
      const kinds = [...(options.expectedInputs ?? []), ...(options.expectedOutputs ?? [])];
      if (kinds.some((k) => k?.type && k.type !== 'text')) return 'unavailable';
      try {
        return (await ask('languageModel.availability')).availability;
      } catch {
        return 'unavailable';
      }
    }

    static async params() { return PARAMS; }

    static async create(options = {}) {
      const { signal, monitor, initialPrompts = [] } = options;
      if (signal?.aborted) throw abortReason(signal);
      const history = toMessages(initialPrompts, { allowSystem: true });
      const progress = new EventTarget();
      monitor?.(progress);
      const state = await LanguageModel.availability(options);
      if (state === 'unavailable') {
        throw domError('NotSupportedError', 'no Bodhi companion is ready (or it is not paired)');
      }
      const loaded = (n) => progress.dispatchEvent(new ProgressEvent('downloadprogress',
        { loaded: n, total: 1, lengthComputable: true }));
      loaded(0);
      if (state === 'downloadable') await access();
      if (signal?.aborted) throw abortReason(signal);
      const { model, context_size: size } = await ask('languageModel.model');
      loaded(1);
      const usage = (await ask('languageModel.countTokens', { model, messages: history })).tokens;
      return new LanguageModel(token, { model, history, usage, quota: size ?? Infinity,
        options: { temperature: options.temperature, topK: options.topK } });
    }

    get temperature() { return this.#options.temperature ?? PARAMS.defaultTemperature; }
    get topK() { return this.#options.topK ?? PARAMS.defaultTopK; }
    get inputUsage() { return this.#usage; }
    get inputQuota() { return this.#quota; }
    get contextUsage() { return this.#usage; }
    get contextWindow() { return this.#quota; }

    #alive() {
      if (this.#destroyed) throw domError('InvalidStateError', 'the session was destroyed');
    }

    // Sampling settings go only when the page set them: otherwise the alias's own apply.
    #body(messages, constraint) {
      const { temperature, topK } = this.#options;
      return { model: this.#model, messages: [...this.#history, ...messages],
        ...(temperature === undefined ? {} : { temperature }),
        ...(topK === undefined ? {} : { top_k: topK }), ...responseFormat(constraint) };
    }

    async #count(messages) {
      return (await ask('languageModel.countTokens', { model: this.#model, messages })).tokens;
    }

    async #remember(messages) {
      this.#usage = await this.#count([...this.#history, ...messages]);
      this.#history.push(...messages);
    }

    async prompt(input, options = {}) {
      this.#alive();
      const messages = toMessages(input);
      const signal = anySignal([options.signal, this.#lifetime.signal]);
      let reply;
      try {
        reply = await window.bodhi.chat(this.#body(messages, options.responseConstraint),
          { signal });
      } catch (err) {
        throw signal.aborted ? abortReason(signal) : err;
      }
      const text = reply.choices?.[0]?.message?.content ?? '';
      await this.#remember([...messages, { role: 'assistant', content: text }]);
      return text;
    }

    // A stream of text deltas, as Chrome's current promptStreaming gives them.
    promptStreaming(input, options = {}) {
      this.#alive();
      const messages = toMessages(input);
      const own = new AbortController();
      const signal = anySignal([options.signal, this.#lifetime.signal, own.signal]);
      const body = { ...this.#body(messages, options.responseConstraint), stream: true };
      let text = '';
      return new ReadableStream({
        start: async (controller) => {
          try {
            const chunks = await window.bodhi.chat(body, { signal });
            for await (const chunk of chunks) {
              const delta = chunk.choices?.[0]?.delta?.content;
              if (delta) { text += delta; controller.enqueue(delta); }
            }
            await this.#remember([...messages, { role: 'assistant', content: text }]);
            controller.close();
          } catch (err) {
            controller.error(signal.aborted ? abortReason(signal) : err);
          }
        },
        cancel: (reason) => own.abort(reason),
      });
    }

    async append(input, options = {}) {
      this.#alive();
      if (options.signal?.aborted) throw abortReason(options.signal);
      await this.#remember(toMessages(input));
    }

    async measureInputUsage(input) {
      this.#alive();
      const messages = toMessages(input);
      return (await this.#count([...this.#history, ...messages])) - this.#usage;
    }

    measureContextUsage(input) { return this.measureInputUsage(input); }

    async clone(options = {}) {
      this.#alive();
      if (options.signal?.aborted) throw abortReason(options.signal);
      return new LanguageModel(token, { model: this.#model, history: [...this.#history],
        usage: this.#usage, quota: this.#quota, options: { ...this.#options } });
    }

    destroy() {
      this.#destroyed = true;
      this.#lifetime.abort(domError('AbortError', 'the session was destroyed'));
    }
  }

  // create() asks for access when the origin has no grant for chat: the consent window opens
  // only while the page handles a user action (as Chrome's model download needs one).
  async function access() {
    try {
      await window.bodhi.requestAccess({ scopes: ['chat'] });
    } catch (err) {
      if (err?.code === 'access_denied' || err?.code === 'user_gesture_required') {
        throw domError('NotAllowedError', err.message);
      }
      throw err;
    }
  }

  Object.freeze(LanguageModel.prototype);
  Object.freeze(LanguageModel);
  Object.defineProperty(window, EXTRAS, { value: { LanguageModel }, configurable: true });
})();
