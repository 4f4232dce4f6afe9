// The chat page: conversations in IndexedDB (chat/store.js), a model picker over the models the
// user may use, parameters per conversation, and replies streamed from /v1/chat/completions
// with Stop (chat/replies.js). A conversation may offer the model the user's MCP tools
// (chat/mcp_*.js). /ui/chat is a new conversation (saved with its first message),
// /ui/chat/<id> a saved one.
import { html, useEffect, useMemo, useRef, useState } from '../lib.js';
import { allPages, api } from '../api.js';
import { navigate } from '../router.js';
import { ChatStore, newConversation, search, titleFrom } from '../chat/store.js';
import { useReplies } from '../chat/replies.js';
import { Composer, ConversationList, Message, ModelPicker, ParamsPanel } from '../chat/parts.js';
import { McpPanel, ToolCalls } from '../chat/mcp_parts.js';

const LAST_MODEL = 'bodhi.ui.chat.model';
const CONFIRM_TOOLS = 'bodhi.ui.chat.confirmTools';

/** New conversations ask before tool calls unless the user last chose not to. */
function defaultParams() {
  return { confirmTools: localStorage.getItem(CONFIRM_TOOLS) !== 'false' };
}

async function loadModels() {
  try {
    return (await allPages('/bodhi/v1/models')).map((m) => ({ id: m.alias, source: m.source }));
  } catch {
    // A role or token that may not list the catalog still gets OpenAI's list.
    return (await api('/v1/models')).data.map((m) => ({ id: m.id, source: 'other' }));
  }
}

/** Field -> message for parameters that cannot be sent. */
export function paramProblems(params) {
  const problems = {};
  const t = params.temperature;
  if (t !== undefined && t !== '' && !(Number(t) >= 0 && Number(t) <= 2)) {
    problems.temperature = 'Temperature is a number from 0 to 2.';
  }
  const n = params.max_tokens;
  if (n !== undefined && n !== '' && !(Number.isInteger(Number(n)) && Number(n) > 0)) {
    problems.max_tokens = 'Max tokens is a whole number above 0.';
  }
  return problems;
}

function useConversations(userId) {
  const [store, setStore] = useState(null);
  const [conversations, setConversations] = useState(null);
  const [failure, setFailure] = useState(null);
  useEffect(() => {
    ChatStore.open(userId).then(async (opened) => {
      setStore(opened);
      setConversations(await opened.list());
    }).catch(setFailure);
  }, [userId]);
  const save = async (conversation) => {
    const saved = { ...conversation, updated: Date.now() };
    await store.put(saved);
    setConversations((list) => [saved, ...list.filter((c) => c.id !== saved.id)]);
    return saved;
  };
  const remove = async (id) => {
    await store.remove(id);
    setConversations((list) => list.filter((c) => c.id !== id));
  };
  return { ready: store !== null && conversations !== null, conversations: conversations ?? [],
    failure, save, remove };
}

function useModels() {
  const [state, setState] = useState({ models: [], error: null, loaded: false });
  useEffect(() => {
    loadModels().then((models) => setState({ models, error: null, loaded: true }),
      (error) => setState({ models: [], error, loaded: true }));
  }, []);
  return state;
}

function useStick(ref, deps) {
  // Keep the newest text in view while the reader is at the bottom.
  useEffect(() => {
    const el = ref.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, deps);
}

function useStickOnResize(ref) {
  // A log that was at the bottom stays there when it changes size (a phone turned, its
  // keyboard opened), so the newest message and a tool call's Run / Skip stay in view.
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    let atBottom = true;
    const onScroll = () => { atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 120; };
    const observer = new ResizeObserver(() => { if (atBottom) el.scrollTop = el.scrollHeight; });
    el.addEventListener('scroll', onScroll);
    observer.observe(el);
    return () => { el.removeEventListener('scroll', onScroll); observer.disconnect(); };
  }, []);
}

export default function ChatPage({ session, segments }) {
  const store = useConversations(session.user.user_id);
  const { models, error: modelError } = useModels();
  const [draft, setDraft] = useState(() => newConversation(null, defaultParams()));
  const [query, setQuery] = useState('');
  const [showParams, setShowParams] = useState(false);
  const [showTools, setShowTools] = useState(false);
  const [showList, setShowList] = useState(false);
  const inputRef = useRef(null);
  const logRef = useRef(null);
  const { streaming, reply, stop, decide } = useReplies(store.save,
    () => inputRef.current?.focus());
  const currentId = segments[1] ?? null;
  const current = currentId ? store.conversations.find((c) => c.id === currentId) : draft;
  const fallbackModel = localStorage.getItem(LAST_MODEL);
  const model = current?.model
    ?? (models.some((m) => m.id === fallbackModel) ? fallbackModel : models[0]?.id ?? null);
  const problems = paramProblems(current?.params ?? {});
  const shown = useMemo(() => search(store.conversations, query), [store.conversations, query]);
  useStick(logRef, [streaming?.message?.content, streaming?.calls, current?.messages.length]);
  useEffect(() => { setShowList(false); inputRef.current?.focus(); }, [currentId, store.ready]);

  const change = (changes) => {
    if (changes.params && changes.params.confirmTools !== current.params?.confirmTools) {
      localStorage.setItem(CONFIRM_TOOLS, String(changes.params.confirmTools !== false));
    }
    if (!currentId) setDraft({ ...draft, ...changes });
    else store.save({ ...current, ...changes });
  };
  const pickModel = (id) => { localStorage.setItem(LAST_MODEL, id); change({ model: id }); };

  const send = async (text) => {
    if (!model || Object.keys(problems).length) return;
    const first = current.messages.length === 0;
    const conversation = await store.save({ ...current, model,
      title: first ? titleFrom(text) : current.title,
      messages: [...current.messages, { role: 'user', content: text, at: Date.now() }] });
    if (!currentId) {
      setDraft({ ...newConversation(null, current.params), mcps: current.mcps,
        toolFirst: current.toolFirst });
      navigate(`/ui/chat/${conversation.id}`);
    }
    await reply(conversation);
  };
  const startNew = () => { navigate('/ui/chat'); inputRef.current?.focus(); };
  const rename = (conversation, title) => store.save({ ...conversation, title });
  const remove = async (conversation) => {
    if (streaming?.id === conversation.id) stop();
    await store.remove(conversation.id);
    if (conversation.id === currentId) navigate('/ui/chat', { replace: true });
  };

  if (store.failure) {
    return html`<p class="error" role="alert">This browser cannot keep conversations
      (IndexedDB: ${String(store.failure.message ?? store.failure)}).</p>`;
  }
  if (!store.ready) return html`<p class="loading">Loading conversations…</p>`;
  return html`<div class="chat" data-list=${showList ? 'open' : 'closed'} data-testid="chat">
    <${ConversationList} conversations=${shown} currentId=${currentId} query=${query}
      onQuery=${setQuery} onNew=${startNew} onRename=${rename} onDelete=${remove} />
    <section class="conversation" aria-label="Conversation">
      ${current ? html`<${ChatBody} current=${current} model=${model} models=${models}
          modelError=${modelError} streaming=${streaming} showParams=${showParams}
          setShowParams=${setShowParams} showTools=${showTools} setShowTools=${setShowTools}
          decide=${decide} showList=${showList} setShowList=${setShowList}
          pickModel=${pickModel} change=${change} problems=${problems} send=${send} stop=${stop}
          inputRef=${inputRef} logRef=${logRef} />`
        : html`<div class="empty"><h1>No such conversation</h1><p>It may have been deleted.
          <button type="button" onClick=${startNew}>Start a new one</button></p></div>`}
    </section>
  </div>`;
}

function ChatBody({ current, model, models, modelError, streaming, showParams, setShowParams,
  showTools, setShowTools, decide, showList, setShowList, pickModel, change, problems, send,
  stop, inputRef, logRef }) {
  const mine = streaming?.id === current.id ? streaming : null;
  const live = mine?.message ?? null;
  const toolCount = (current.mcps ?? []).length;
  useStickOnResize(logRef);
  const problemList = Object.values(problems);
  // One panel at a time (Parameters or Tools): a phone has no room for both.
  return html`<div class="toolbar">
      <button type="button" class="list-toggle" aria-expanded=${showList ? 'true' : 'false'}
        aria-label="Conversations" data-testid="list-toggle"
        onClick=${() => setShowList(!showList)}>☰ Chats</button>
      <h1 class="title" data-testid="conversation-title">${current.title}</h1>
      <${ModelPicker} models=${models} value=${model} onChange=${pickModel}
        disabled=${streaming !== null} />
      <button type="button" aria-expanded=${showParams ? 'true' : 'false'}
        data-testid="params-toggle"
        onClick=${() => { setShowParams(!showParams); setShowTools(false); }}>
        Parameters</button>
      <button type="button" aria-expanded=${showTools ? 'true' : 'false'}
        data-testid="tools-toggle"
        onClick=${() => { setShowTools(!showTools); setShowParams(false); }}>
        Tools${toolCount ? ` (${toolCount})` : ''}</button>
    </div>
    ${modelError && html`<p class="error" role="alert">The models could not be listed:
      ${modelError.message}</p>`}
    ${showParams && html`<${ParamsPanel} params=${current.params ?? {}}
      onChange=${(params) => change({ params })} />`}
    ${showTools && html`<${McpPanel} conversation=${current} onChange=${change} />`}
    ${problemList.length > 0 && html`<p class="error" role="alert" data-testid="param-error">
      ${problemList.join(' ')}</p>`}
    <div class="messages" ref=${logRef} role="log" aria-label="Messages"
        data-testid="messages" tabindex="0">
      ${current.messages.length === 0 && !live && html`<p class="muted hello">Ask anything.
        Replies stream from ${model ?? 'the model you pick'} on this companion.</p>`}
      <${MessageList} messages=${current.messages} calls=${mine?.calls} decide=${decide} />
      ${live && html`<${Message} message=${live} streaming=${true} />`}
    </div>
    <${Composer} busy=${streaming !== null} disabled=${!model || problemList.length > 0}
      onSend=${send} onStop=${stop} inputRef=${inputRef} />`;
}

function MessageList({ messages, calls, decide }) {
  // A tool message is shown with the call it answers, not on its own.
  const results = useMemo(() => new Map(messages.filter((m) => m.role === 'tool')
    .map((m) => [m.tool_call_id, m])), [messages]);
  return messages.map((m, i) => (m.role === 'tool' ? null : html`<${Message} key=${i}
      message=${m}>${m.tool_calls?.length ? html`<${ToolCalls} message=${m} results=${results}
        calls=${calls} onDecide=${decide} />` : null}<//>`));
}
