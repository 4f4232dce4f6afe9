// Server-sent events from a fetch body: yields each event's `data` string as it arrives.
export async function* sseEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    while (!signal?.aborted) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, '\n');
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (data) yield data;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Each event's data parsed as JSON, until the body ends or an OpenAI-style `[DONE]`. */
export async function* sseJson(body, signal) {
  for await (const data of sseEvents(body, signal)) {
    if (data === '[DONE]') return;
    yield JSON.parse(data);
  }
}
