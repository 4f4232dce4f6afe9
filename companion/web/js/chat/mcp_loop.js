// Running the tool calls of one model reply, one after another: find the call's instance and
// tool, parse its arguments, ask the user first when the conversation wants that, call it
// through the MCP proxy, and make the `tool` message the model reads next. Whatever goes wrong
// with a call (an unknown tool, bad arguments, a refusal, a failing server) becomes that call's
// result, so the model hears of it; only Stop ends the run, and the calls it cut short are
// recorded as stopped so the conversation stays whole.
import { callTool } from './mcp_client.js';

/** How many times one reply may run tools before the loop gives up. */
export const MAX_TOOL_ROUNDS = 5;
export const DECLINED = 'The user declined to run this tool call.';
const STOPPED = 'Stopped by the user before this call finished.';
const OVER_LIMIT = `Not run: this reply reached the limit of ${MAX_TOOL_ROUNDS} rounds of tool`
  + ' calls.';

function toolMessage(call, target, status, content) {
  return { role: 'tool', tool_call_id: call.id, name: call.function.name,
    tool: target?.tool ?? call.function.name,
    instance: target ? { id: target.instanceId, name: target.instanceName } : null,
    status, content, at: Date.now() };
}

function parseArguments(text) {
  const args = (text ?? '').trim() ? JSON.parse(text) : {};
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new SyntaxError('the arguments are not a JSON object');
  }
  return args;
}

async function runCall(call, { catalog, confirm, signal, setState, ask }) {
  const target = catalog?.byName.get(call.function.name) ?? null;
  if (!target) {
    const error = `Error: there is no tool named "${call.function.name}".`;
    return toolMessage(call, null, 'error', error);
  }
  let args;
  try {
    args = parseArguments(call.function.arguments);
  } catch (error) {
    return toolMessage(call, target, 'error', `Error: ${error.message}. Send a JSON object.`);
  }
  if (confirm) {
    setState(call.id, 'waiting');
    if (!(await ask(call.id, signal))) return toolMessage(call, target, 'declined', DECLINED);
  }
  setState(call.id, 'running');
  try {
    const result = await callTool(target.instanceId, target.tool, args, signal);
    return toolMessage(call, target, result.isError ? 'error' : 'ok', result.text);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    return toolMessage(call, target, 'error', `Error: ${error.message}`);
  }
}

/**
 * Runs `calls` (an assistant message's tool_calls) in order; `onResult(toolMessage)` as each
 * ends. Resolves to true when Stop cut the run short.
 */
export async function runToolCalls(calls, options, onResult) {
  for (const [i, call] of calls.entries()) {
    try {
      await onResult(await runCall(call, options));
    } catch (error) {
      if (error.name !== 'AbortError') throw error;
      for (const rest of calls.slice(i)) {
        await onResult(toolMessage(rest, options.catalog?.byName.get(rest.function.name),
          'stopped', STOPPED));
      }
      return true;
    } finally {
      options.setState(call.id, null);
    }
  }
  return false;
}

/** The results for calls the loop will not run: the reply used up its rounds. */
export function overLimit(calls, catalog) {
  return calls.map((call) => toolMessage(call, catalog?.byName.get(call.function.name),
    'skipped', OVER_LIMIT));
}

export const LIMIT_NOTE = `Stopped after ${MAX_TOOL_ROUNDS} rounds of tool calls: the model`
  + ' still asked for more. Send a message to let it go on.';

/** A promise for the user's choice on one call, and how to give it; Stop rejects it. */
export function waitForChoice(choices, id, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DOMException('Stopped', 'AbortError'));
      return;
    }
    const abort = () => {
      choices.delete(id);
      reject(new DOMException('Stopped', 'AbortError'));
    };
    signal.addEventListener('abort', abort, { once: true });
    choices.set(id, (run) => {
      signal.removeEventListener('abort', abort);
      choices.delete(id);
      resolve(run);
    });
  });
}
