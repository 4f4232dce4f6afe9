// One answer at a time: streams each model reply into state as it comes (for the live message)
// and saves it (answered, stopped or failed) into its conversation. With MCP tools on, a reply
// that calls tools has them run (chat/mcp_loop.js), their results saved as `tool` messages and
// sent back, until the model answers in words or MAX_TOOL_ROUNDS is reached. Stop ends it all.
import { useRef, useState } from '../lib.js';
import { newReply, stats, streamChat } from './stream.js';
import { catalogFor } from './mcp_tools.js';
import { LIMIT_NOTE, MAX_TOOL_ROUNDS, overLimit, runToolCalls, waitForChoice } from './mcp_loop.js';

const SESSION_ENDED = 'Your session ended before this reply: sign in again and send it again.';
const RENDER_EVERY_MS = 40;

function wireMessage(m, withTools) {
  if (m.role === 'tool') {
    return withTools ? { role: 'tool', tool_call_id: m.tool_call_id, content: m.content } : null;
  }
  if (m.tool_calls?.length && withTools) {
    return { role: 'assistant', content: m.content ?? '', tool_calls: m.tool_calls.map(
      (c) => ({ id: c.id, type: 'function', function: { name: c.function.name,
        arguments: c.function.arguments } })) };
  }
  return m.content ? { role: m.role, content: m.content } : null;
}

/**
 * The body of a chat request for a conversation: system prompt, messages, parameters, and the
 * tools of `catalog` (the tool turns of the past are sent only with tools). `first` is the
 * first model request after the user's message: "Call a tool first" asks for a call there.
 */
export function requestBody(conversation, catalog = null, first = true) {
  const p = conversation.params ?? {};
  const messages = p.system?.trim() ? [{ role: 'system', content: p.system.trim() }] : [];
  for (const m of conversation.messages) {
    const wire = wireMessage(m, catalog !== null);
    if (wire) messages.push(wire);
  }
  const body = { model: conversation.model, messages };
  if (p.temperature !== undefined && p.temperature !== '') body.temperature = Number(p.temperature);
  if (p.max_tokens !== undefined && p.max_tokens !== '') body.max_tokens = Number(p.max_tokens);
  const stop = (p.stop ?? '').split(',').map((s) => s.trim()).filter(Boolean).slice(0, 4);
  if (stop.length) body.stop = stop;
  if (first && p.prefill) messages.push({ role: 'assistant', content: p.prefill });
  if (catalog) {
    body.tools = catalog.tools;
    if (first && conversation.toolFirst) body.tool_choice = 'required';
  }
  return body;
}

function answered(started, result, model, prefill) {
  // The model went on from the prefill: the reply is both (unless it became a tool call).
  const content = prefill && !result.toolCalls.length ? prefill + result.content : result.content;
  const done = { ...started, content, stats: { model, ttftMs: result.ttftMs,
    tokensPerSec: result.tokensPerSec,
    completionTokens: result.usage?.completion_tokens ?? null } };
  if (result.toolCalls.length) done.tool_calls = result.toolCalls;
  return done;
}

function cutShort(started, error, progress, model) {
  const done = { ...started, content: progress.content,
    stats: { model, ttftMs: stats(progress).ttftMs } };
  if (error.name === 'AbortError') done.stopped = true;
  else if (error.status === 401) done.error = { message: SESSION_ENDED, code: null };
  else done.error = { message: error.message, code: error.code ?? null };
  return done;
}

/** One model reply streamed into `show` and returned as the message to keep. */
async function oneReply(body, model, controller, show) {
  const progress = newReply();
  const started = { role: 'assistant', content: '', at: Date.now() };
  show(started);
  // At most one render per RENDER_EVERY_MS however fast the pieces come (a timer, not an
  // animation frame: those stop in a background tab).
  let timer = null;
  const onText = () => {
    timer ??= setTimeout(() => {
      timer = null;
      show({ ...started, content: progress.content });
    }, RENDER_EVERY_MS);
  };
  try {
    const result = await streamChat(body, { signal: controller.signal, onText, reply: progress });
    const last = body.messages.at(-1);
    return answered(started, result, model, last?.role === 'assistant' ? last.content : '');
  } catch (error) {
    return cutShort(started, error, progress, model);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * {streaming, reply(conversation), stop(), decide(callId, run)}; `save` stores a conversation.
 * `streaming` is {id, message (the reply being written, or null while tools run), calls
 * ({callId: 'waiting'|'running'}), controller} while an answer is under way.
 */
export function useReplies(save, afterEach) {
  const [streaming, setStreaming] = useState(null);
  const choices = useRef(new Map());
  const reply = async (conversation) => {
    const controller = new AbortController();
    setStreaming({ id: conversation.id, message: null, calls: {}, controller });
    const show = (message) => setStreaming((s) => s && { ...s, message });
    let current = conversation;
    const keep = async (...messages) => {
      current = await save({ ...current, messages: [...current.messages, ...messages] });
    };
    try {
      await answer(conversation, controller, show, keep, () => current);
    } finally {
      setStreaming(null);
      afterEach();
    }
  };

  const answer = async (conversation, controller, show, keep, now) => {
    let catalog = null;
    try {
      catalog = await catalogFor(conversation);
    } catch (error) {
      await keep({ role: 'assistant', content: '', at: Date.now(),
        error: { message: error.message, code: error.code ?? null } });
      return;
    }
    const setState = (id, state) => setStreaming((s) => s && {
      ...s, calls: { ...s.calls, [id]: state ?? undefined } });
    const options = { catalog, confirm: conversation.params?.confirmTools !== false,
      signal: controller.signal, setState,
      ask: (id, signal) => waitForChoice(choices.current, id, signal) };
    for (let round = 0; ; round += 1) {
      const body = requestBody(now(), catalog, round === 0);
      const done = await oneReply(body, conversation.model, controller, show);
      show(null);
      if (!done.tool_calls) return keep(done);
      for (const call of done.tool_calls) {     // shown with the call; never sent to the model
        call.instance = catalog?.byName.get(call.function.name)?.instanceName;
      }
      if (round >= MAX_TOOL_ROUNDS) {
        return keep({ ...done, error: { message: LIMIT_NOTE, code: null } },
          ...overLimit(done.tool_calls, catalog));
      }
      await keep(done);
      if (await runToolCalls(done.tool_calls, options, (message) => keep(message))) return;
    }
  };

  const stop = () => streaming?.controller.abort();
  const decide = (id, run) => choices.current.get(id)?.(run);
  return { streaming, reply, stop, decide };
}
