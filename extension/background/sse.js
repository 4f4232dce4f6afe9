// Server-sent events from a fetch body, and how a stream fails: a cut connection, or an
// OpenAI-style error event once the stream has begun (the status line is gone by then, so the
// companion sends the error as an event), each ends the stream with an ExtensionError.
import { Code, ExtensionError } from '../common/errors.js';

const cut = () => new ExtensionError(Code.UNREACHABLE,
  'the connection to the companion was lost in the middle of the stream');

// An event's lines: `data:` carries the payload. llama.cpp has sent failures as an `error:`
// line instead; it is read as data too, so that it fails the stream rather than vanish.
function eventData(block) {
  return block.split('\n').filter((l) => l.startsWith('data:') || l.startsWith('error:'))
    .map((l) => l.slice(l.indexOf(':') + 1).replace(/^ /, '')).join('\n');
}

async function read(reader, signal) {
  try {
    return await reader.read();
  } catch (err) {
    if (signal?.aborted) throw err;
    throw cut();
  }
}

// Lines end with CRLF, LF or CR alike. A CR at the very end may be the first half of a CRLF
// split between chunks, so it waits for the next chunk.
function normalised(buffer) {
  const held = buffer.endsWith('\r') ? '\r' : '';
  return buffer.slice(0, buffer.length - held.length).replace(/\r\n?/g, '\n') + held;
}

/**
 * Yields each event's `data` string as it arrives. A broken connection, or a body that ends
 * in the middle of an event (data but no blank line after it), throws `unreachable`.
 */
export async function* sseEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    while (!signal?.aborted) {
      const { value, done } = await read(reader, signal);
      // At the end, a held CR is a line end after all.
      buffer = done ? buffer.replace(/\r$/, '\n') : normalised(buffer + value);
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = eventData(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data) yield data;
      }
      if (done) {
        if (eventData(buffer)) throw cut();
        break;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The ExtensionError for an error event's JSON ({"error": {...}}), as for an HTTP refusal:
 *  `api_error` with the event as `body`; `status` only where the event names one. */
export function streamError(event) {
  const error = event.error && typeof event.error === 'object' ? event.error
    : { message: String(event.error) };
  const status = Number.isInteger(error.code) ? error.code : undefined;   // llama.cpp's
  return new ExtensionError(Code.API_ERROR, error.message ?? 'the stream failed',
    { status, body: event });
}

/**
 * Each event's data parsed as JSON, until an OpenAI-style `[DONE]`. With `openai` (an OpenAI
 * chat stream, not JSON-RPC, whose `error` members are ordinary replies): an `{"error": ...}`
 * event throws, and a body that ends before `[DONE]` throws `unreachable` (the companion
 * stopped or restarted), for such streams always end with it.
 */
export async function* sseJson(body, signal, { openai = false } = {}) {
  for await (const data of sseEvents(body, signal)) {
    if (data === '[DONE]') return;
    const event = JSON.parse(data);
    if (openai && event && typeof event === 'object' && 'error' in event) {
      throw streamError(event);
    }
    yield event;
  }
  if (openai && !signal?.aborted) throw cut();
}
