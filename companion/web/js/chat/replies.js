// One reply at a time: streams it into state as it comes (for the live message), and saves the
// finished message (answered, stopped or failed) into its conversation.
import { useState } from '../lib.js';
import { newReply, stats, streamChat } from './stream.js';

const SESSION_ENDED = 'Your session ended before this reply: sign in again and send it again.';
const RENDER_EVERY_MS = 40;

/** The body of a chat request for a conversation: system prompt, messages, parameters. */
export function requestBody(conversation) {
  const p = conversation.params ?? {};
  const messages = p.system?.trim() ? [{ role: 'system', content: p.system.trim() }] : [];
  for (const m of conversation.messages) {
    if (m.content) messages.push({ role: m.role, content: m.content });
  }
  const body = { model: conversation.model, messages };
  if (p.temperature !== undefined && p.temperature !== '') body.temperature = Number(p.temperature);
  if (p.max_tokens !== undefined && p.max_tokens !== '') body.max_tokens = Number(p.max_tokens);
  const stop = (p.stop ?? '').split(',').map((s) => s.trim()).filter(Boolean).slice(0, 4);
  if (stop.length) body.stop = stop;
  return body;
}

function answered(started, result, model) {
  return { ...started, content: result.content, stats: { model, ttftMs: result.ttftMs,
    tokensPerSec: result.tokensPerSec, completionTokens: result.usage?.completion_tokens ?? null } };
}

function cutShort(started, error, progress, model) {
  const done = { ...started, content: progress.content,
    stats: { model, ttftMs: stats(progress).ttftMs } };
  if (error.name === 'AbortError') done.stopped = true;
  else if (error.status === 401) done.error = { message: SESSION_ENDED, code: null };
  else done.error = { message: error.message, code: error.code ?? null };
  return done;
}

/** {streaming, reply(conversation), stop()}; `save` stores a conversation. */
export function useReplies(save, afterEach) {
  const [streaming, setStreaming] = useState(null);
  const reply = async (conversation) => {
    const controller = new AbortController();
    const progress = newReply();
    const started = { role: 'assistant', content: '', at: Date.now() };
    setStreaming({ id: conversation.id, message: started, controller });
    // At most one render per RENDER_EVERY_MS however fast the pieces come (a timer, not an
    // animation frame: those stop in a background tab).
    let timer = null;
    const onText = () => {
      timer ??= setTimeout(() => {
        timer = null;
        setStreaming((s) => s && { ...s, message: { ...s.message, content: progress.content } });
      }, RENDER_EVERY_MS);
    };
    let done;
    try {
      const result = await streamChat(requestBody(conversation), { signal: controller.signal,
        onText, reply: progress });
      done = answered(started, result, conversation.model);
    } catch (error) {
      done = cutShort(started, error, progress, conversation.model);
    }
    clearTimeout(timer);
    setStreaming(null);
    await save({ ...conversation, messages: [...conversation.messages, done] });
    afterEach();
  };
  const stop = () => streaming?.controller.abort();
  return { streaming, reply, stop };
}
