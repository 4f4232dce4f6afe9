// The chat page's pieces: the conversation list (new, open, rename, delete, search), the model
// picker, the parameters, one message, and the composer. State lives in pages/chat.js; the MCP
// pieces are in chat/mcp_parts.js.
import { html, useEffect, useLayoutEffect, useRef, useState } from '../lib.js';
import { Link } from '../router.js';
import { copyCode, enhanceCode, renderMarkdown } from './markdown.js';

function RenameForm({ conversation, onRename, onDone }) {
  const [title, setTitle] = useState(conversation.title);
  const input = useRef(null);
  useLayoutEffect(() => { input.current?.focus(); input.current?.select(); }, []);
  const submit = (event) => {
    event.preventDefault();
    if (title.trim()) onRename(conversation, title.trim());
    onDone();
  };
  const keys = (event) => { if (event.key === 'Escape') onDone(); };
  return html`<form class="rename" onSubmit=${submit}>
    <input ref=${input} value=${title} maxlength="120" aria-label="New title"
      data-testid="rename-input" onInput=${(e) => setTitle(e.target.value)} onKeyDown=${keys} />
    <button type="submit" data-testid="rename-save">Save</button>
  </form>`;
}

function useFocusOnMode(mode) {
  // Keyboard users keep their place: the confirm button when asked, the rename button after.
  const confirm = useRef(null);
  const rename = useRef(null);
  const previous = useRef(mode);
  useLayoutEffect(() => {
    if (mode === 'confirm') confirm.current?.focus();
    if (mode === 'show' && previous.current !== 'show') rename.current?.focus();
    previous.current = mode;
  }, [mode]);
  return { confirm, rename };
}

function ConversationItem({ conversation, current, onRename, onDelete }) {
  const [mode, setMode] = useState('show');
  const focus = useFocusOnMode(mode);
  if (mode === 'rename') {
    return html`<li><${RenameForm} conversation=${conversation} onRename=${onRename}
      onDone=${() => setMode('show')} /></li>`;
  }
  const title = conversation.title;
  return html`<li class=${current ? 'current' : ''} data-testid="conversation"
      data-id=${conversation.id}>
    <${Link} href=${`/ui/chat/${conversation.id}`} class="open" data-testid="conversation-open"
      aria-current=${current ? 'page' : undefined}>${title}<//>
    ${mode === 'confirm' ? html`<span class="confirm" role="group" aria-label="Delete?">
        <button type="button" class="danger" data-testid="delete-confirm" ref=${focus.confirm}
          onClick=${() => onDelete(conversation)}>Delete</button>
        <button type="button" onClick=${() => setMode('show')}>Keep</button></span>`
      : html`<span class="actions">
        <button type="button" class="icon-button" data-testid="conversation-rename"
          ref=${focus.rename} aria-label=${`Rename ${title}`} title="Rename" onClick=${() => setMode('rename')}>✎</button>
        <button type="button" class="icon-button" data-testid="conversation-delete"
          aria-label=${`Delete ${title}`} title="Delete" onClick=${() => setMode('confirm')}>✕</button>
      </span>`}
  </li>`;
}

export function ConversationList({ conversations, currentId, query, onQuery, onNew, onRename,
  onDelete }) {
  return html`<aside class="conversations" aria-label="Conversations">
    <button type="button" class="primary wide" data-testid="new-chat" onClick=${onNew}>
      New chat</button>
    <input type="search" placeholder="Search conversations" aria-label="Search conversations"
      data-testid="conversation-search" value=${query}
      onInput=${(e) => onQuery(e.target.value)} />
    <ul data-testid="conversation-list">
      ${conversations.map((c) => html`<${ConversationItem} key=${c.id} conversation=${c}
        current=${c.id === currentId} onRename=${onRename} onDelete=${onDelete} />`)}
    </ul>
    ${conversations.length === 0 && html`<p class="muted">${query ? 'Nothing matches.'
      : 'No conversations yet.'}</p>`}
  </aside>`;
}

const GROUPS = [['user', 'Aliases'], ['embedded', 'Built in'], ['model', 'Model files'],
  ['api', 'API models'], ['router', 'Routers']];

export function ModelPicker({ models, value, onChange, disabled }) {
  const known = new Set(GROUPS.map(([source]) => source));
  const groups = [...GROUPS, ['other', 'Other']].map(([source, label]) => [label,
    models.filter((m) => (known.has(m.source) ? m.source : 'other') === source)])
    .filter(([, items]) => items.length);
  return html`<label class="field inline"><span class="label">Model</span>
    <select data-testid="model-picker" value=${value ?? ''} disabled=${disabled}
      onChange=${(e) => onChange(e.target.value)}>
      ${!value && html`<option value="">Choose a model</option>`}
      ${groups.map(([label, items]) => html`<optgroup label=${label}>
        ${items.map((m) => html`<option value=${m.id}>${m.id}</option>`)}</optgroup>`)}
    </select></label>`;
}

export function ParamsPanel({ params, onChange }) {
  const set = (key) => (event) => onChange({ ...params, [key]: event.target.value });
  return html`<fieldset class="params" data-testid="params">
    <legend>Parameters</legend>
    <label class="field">System prompt
      <textarea rows="2" data-testid="param-system" value=${params.system ?? ''}
        onInput=${set('system')} /></label>
    <div class="row">
      <label class="field">Temperature
        <input type="number" min="0" max="2" step="0.1" placeholder="default"
          data-testid="param-temperature" value=${params.temperature ?? ''}
          onInput=${set('temperature')} /></label>
      <label class="field">Max tokens
        <input type="number" min="1" step="1" placeholder="default"
          data-testid="param-max-tokens" value=${params.max_tokens ?? ''}
          onInput=${set('max_tokens')} /></label>
      <label class="field">Stop (comma separated)
        <input type="text" placeholder="none" data-testid="param-stop"
          value=${params.stop ?? ''} onInput=${set('stop')} /></label>
    </div>
    <label class="field">Start the reply with (the model goes on from this text; first reply
      to each message only)
      <textarea rows="2" placeholder="nothing" data-testid="param-prefill"
        value=${params.prefill ?? ''} onInput=${set('prefill')} /></label>
    <label class="check"><input type="checkbox" data-testid="param-confirm-tools"
        checked=${params.confirmTools !== false}
        onChange=${(e) => onChange({ ...params, confirmTools: e.target.checked })} />
      <span>Ask before each MCP tool call (Run or Skip)</span></label>
  </fieldset>`;
}

function Stats({ message }) {
  const s = message.stats;
  if (!s && !message.stopped) return null;
  const parts = [];
  if (s?.model) parts.push(s.model);
  if (s?.ttftMs != null) {
    const secs = (s.ttftMs / 1000).toFixed(2);
    parts.push(html`<span data-testid="stat-ttft">${`${secs} s to first token`}</span>`);
  }
  if (s?.tokensPerSec != null) {
    parts.push(html`<span data-testid="stat-tps">${`${s.tokensPerSec} tokens/s`}</span>`);
  }
  if (s?.completionTokens != null) parts.push(`${s.completionTokens} tokens`);
  if (message.stopped) parts.push(html`<strong data-testid="stat-stopped">stopped</strong>`);
  return html`<p class="stats">${parts.map((p, i) => html`${i ? ' · ' : ''}${p}`)}</p>`;
}

function Markdown({ text }) {
  const ref = useRef(null);
  const rendered = renderMarkdown(text);
  useEffect(() => { if (ref.current) enhanceCode(ref.current); });
  return html`<div class="md" ref=${ref} onClick=${copyCode}
    dangerouslySetInnerHTML=${{ __html: rendered }} />`;
}

export function Message({ message, streaming, children }) {
  const who = message.role === 'user' ? 'You' : 'Assistant';
  return html`<article class=${`message ${message.role}`} data-testid="message"
      data-role=${message.role} aria-busy=${streaming ? 'true' : undefined}
      aria-label=${`${who} said`}>
    <div class="who">${who}</div>
    ${message.role === 'user' ? html`<div class="plain">${message.content}</div>`
      : (message.content || streaming) && html`<${Markdown} text=${message.content} />`}
    ${streaming && !message.content && html`<p class="muted">Thinking…</p>`}
    ${children}
    ${message.error && html`<p class="error" role="alert" data-testid="message-error">
      ${message.error.message}${message.error.code ? ` (${message.error.code})` : ''}</p>`}
    <${Stats} message=${message} />
  </article>`;
}

export function Composer({ busy, disabled, onSend, onStop, inputRef }) {
  const [text, setText] = useState('');
  const send = (event) => {
    event?.preventDefault();
    if (busy || disabled || !text.trim()) return;
    onSend(text);
    setText('');
  };
  const keys = (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) send(event);
    if (event.key === 'Escape' && busy) onStop();
  };
  return html`<form class="composer" onSubmit=${send}>
    <label class="sr-only" for="chat-input">Message</label>
    <textarea id="chat-input" ref=${inputRef} rows="2" data-testid="chat-input"
      placeholder="Message" aria-describedby="chat-hint"
      value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${keys} />
    ${busy ? html`<button type="button" class="danger" data-testid="chat-stop"
        onClick=${onStop}>Stop</button>`
      : html`<button type="submit" class="primary" data-testid="chat-send"
        disabled=${disabled || !text.trim()}>Send</button>`}
    <p class="hint muted" id="chat-hint">Enter sends, Shift+Enter starts a new line, Esc
      stops a reply.</p>
  </form>`;
}
