// Conversations kept in this browser's IndexedDB: one database per signed-in user, one record
// per conversation ({id, title, model, params, messages, mcps (the MCP instance ids it may
// use), toolFirst, created, updated}). Nothing of a
// conversation is sent to the companion except the messages of a request.
const STORE = 'conversations';
const VERSION = 1;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase(name) {
  const req = indexedDB.open(name, VERSION);
  req.onupgradeneeded = () => {
    const store = req.result.createObjectStore(STORE, { keyPath: 'id' });
    store.createIndex('updated', 'updated');
  };
  return request(req);
}

export class ChatStore {
  constructor(db) {
    this.db = db;
  }

  static async open(userId) {
    return new ChatStore(await openDatabase(`bodhi-chat:${userId}`));
  }

  store(mode) {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  /** Every conversation, most recently updated first. */
  async list() {
    const all = await request(this.store('readonly').getAll());
    return all.sort((a, b) => b.updated - a.updated);
  }

  async put(conversation) {
    await request(this.store('readwrite').put(conversation));
    return conversation;
  }

  async remove(id) {
    await request(this.store('readwrite').delete(id));
  }
}

export function newConversation(model, params) {
  const now = Date.now();
  return { id: crypto.randomUUID(), title: 'New conversation', model, params: { ...params },
    messages: [], created: now, updated: now };
}

/** Conversations whose title or any message contains `text` (any case). */
export function search(conversations, text) {
  const needle = text.trim().toLowerCase();
  if (!needle) return conversations;
  return conversations.filter((c) => c.title.toLowerCase().includes(needle)
    || c.messages.some((m) => (m.content ?? '').toLowerCase().includes(needle)));
}

/** A title from the first thing the user said: its first line, at most 48 characters. */
export function titleFrom(text) {
  const line = text.trim().split('\n')[0].trim();
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || 'New conversation';
}
