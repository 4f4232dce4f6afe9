// Which MCP tools a conversation offers the model: the user's instances (GET /bodhi/v1/mcps),
// each instance's allowed tools (GET /bodhi/v1/mcps/{id}/tools), and the OpenAI `tools` made
// from their input schemas. Function names must be unique and match [A-Za-z0-9_-]{1,64}: a
// tool keeps its own name when that is already so (small models call short names best), and
// is prefixed with its instance's slug otherwise; `byName` maps a name back to its instance.
import { api } from '../api.js';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export async function loadInstances() {
  return (await api('/bodhi/v1/mcps')).data;
}

/** An instance's tools that it allows. */
export async function loadTools(instanceId) {
  const reply = await api(`/bodhi/v1/mcps/${encodeURIComponent(instanceId)}/tools`);
  return reply.tools.filter((tool) => tool.allowed);
}

export function usable(instance) {
  return instance.enabled && instance.server_enabled !== false;
}

function clean(text) {
  return text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'tool';
}

function uniqueName(wanted, taken) {
  let name = wanted;
  for (let n = 2; taken.has(name); n += 1) name = `${wanted.slice(0, 60)}_${n}`;
  taken.add(name);
  return name;
}

function parameters(schema) {
  const params = schema && typeof schema === 'object' ? { ...schema } : {};
  delete params.$schema;
  if (params.type !== 'object') return { type: 'object', properties: {} };
  return { properties: {}, ...params };
}

/**
 * The OpenAI tools for `entries` ([{instance, tools}]) and `byName`: function name ->
 * {instanceId, instanceName, tool}.
 */
export function buildCatalog(entries) {
  const counts = new Map();
  for (const { tools } of entries) {
    for (const tool of tools) counts.set(tool.name, (counts.get(tool.name) ?? 0) + 1);
  }
  const taken = new Set();
  const tools = [];
  const byName = new Map();
  for (const { instance, tools: own } of entries) {
    for (const tool of own) {
      const plain = counts.get(tool.name) === 1 && NAME.test(tool.name);
      const name = uniqueName(plain ? tool.name : clean(`${instance.slug}__${tool.name}`), taken);
      byName.set(name, { instanceId: instance.id, instanceName: instance.name, tool: tool.name });
      tools.push({ type: 'function', function: { name,
        description: tool.description ?? tool.title ?? tool.name,
        parameters: parameters(tool.inputSchema) } });
    }
  }
  return { tools, byName };
}

/** The catalog of the instances a conversation uses; null when it uses none. */
export async function catalogFor(conversation) {
  const chosen = conversation.mcps ?? [];
  if (!chosen.length) return null;
  const instances = (await loadInstances()).filter((i) => chosen.includes(i.id) && usable(i));
  if (!instances.length) return null;
  const entries = await Promise.all(instances.map(async (instance) => ({ instance,
    tools: await loadTools(instance.id).catch((error) => {
      error.message = `The tools of ${instance.name} could not be listed: ${error.message}`;
      throw error;
    }) })));
  const catalog = buildCatalog(entries);
  return catalog.tools.length ? catalog : null;
}
