// One streamed reply from /v1/chat/completions (OpenAI's server-sent events), with the numbers
// shown under it: time to first token, and tokens per second from the usage the companion sends
// last (stream_options.include_usage). Tool calls come in pieces (OpenAI's `delta.tool_calls`,
// by index) and are put together here. Aborting the signal closes the connection, and the
// companion stops generating when its client goes away.
import { ApiError, api } from '../api.js';

function parseEvent(block) {
  const data = block.split('\n').filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trimStart()).join('\n');
  if (!data) return null;
  if (data === '[DONE]') return { done: true };
  return JSON.parse(data);
}

function addToolCall(reply, piece) {
  const index = piece.index ?? reply.toolCalls.length;
  reply.toolCalls[index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
  const call = reply.toolCalls[index];
  if (piece.id) call.id = piece.id;
  if (piece.function?.name) call.function.name += piece.function.name;
  if (piece.function?.arguments) call.function.arguments += piece.function.arguments;
}

function apply(event, reply, onText) {
  if (event.error) {
    const error = typeof event.error === 'string' ? { message: event.error } : event.error;
    throw new ApiError(500, error.message ?? 'The model failed.', error.code ?? null);
  }
  reply.lastAt = performance.now();
  if (event.usage) reply.usage = event.usage;
  const choice = event.choices?.[0];
  const text = choice?.delta?.content ?? '';
  if (choice?.finish_reason) reply.finishReason = choice.finish_reason;
  for (const piece of choice?.delta?.tool_calls ?? []) addToolCall(reply, piece);
  if (choice?.delta?.tool_calls?.length) {
    reply.firstAt ??= performance.now();
    onText(reply.content);
  }
  if (text) {
    reply.firstAt ??= performance.now();
    reply.content += text;
    onText(reply.content);
  }
}

/**
 * Streams the reply to `body` ({model, messages, ...params}); onText(contentSoFar) on every
 * piece. Resolves to {content, toolCalls, usage, finishReason, ttftMs, tokensPerSec}; on abort
 * or error, rejects, and `reply` (from newReply()) holds what came so far: stats(reply)
 * describes it.
 */
export async function streamChat(body, { signal, onText, reply = newReply() }) {
  const response = await api('/v1/chat/completions', { method: 'POST', signal, raw: true,
    body: { ...body, stream: true, stream_options: { include_usage: true } } });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event && !event.done) apply(event, reply, onText);
    }
  }
  return stats(reply);
}

export function newReply() {
  return { content: '', toolCalls: [], usage: null, finishReason: null, firstAt: null,
    lastAt: null, startedAt: performance.now() };
}

export function stats(reply, endedAt = reply.lastAt ?? performance.now()) {
  const ttftMs = reply.firstAt === null ? null : Math.round(reply.firstAt - reply.startedAt);
  const tokens = reply.usage?.completion_tokens ?? null;
  const secs = reply.firstAt === null ? 0 : (endedAt - reply.firstAt) / 1000;
  const tokensPerSec = tokens && secs > 0 ? Math.round((tokens / secs) * 10) / 10 : null;
  const toolCalls = reply.toolCalls.filter(Boolean).map((call) => ({ ...call,
    id: call.id || `call_${crypto.randomUUID().slice(0, 8)}` }));
  return { content: reply.content, toolCalls, usage: reply.usage,
    finishReason: reply.finishReason, ttftMs, tokensPerSec };
}
