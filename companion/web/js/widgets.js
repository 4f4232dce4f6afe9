// Small pieces the admin pages share: loading data with its error, a two-step delete, a copy
// button, a status note, and how sizes and times are written.
import { html, useCallback, useEffect, useRef, useState } from './lib.js';

/**
 * Runs `load()` now and whenever `deps` change; `reload()` runs it again (e.g. after an edit or
 * an event). Keeps the last data while reloading so the page does not flicker.
 */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const serial = useRef(0);
  const reload = useCallback(async () => {
    const mine = (serial.current += 1);
    setState((old) => ({ ...old, loading: true }));
    try {
      const data = await load();
      if (mine === serial.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === serial.current) setState((old) => ({ ...old, error, loading: false }));
    }
  }, deps);
  useEffect(() => { reload(); }, [reload]);
  return { ...state, reload };
}

/** A load error, or "Loading…" before the first data; null once there is data. */
export function LoadState({ state, what = 'this' }) {
  if (state.error) {
    return html`<p class="error" role="alert" data-testid="load-error">Could not load ${what}:
      ${state.error.message}</p>`;
  }
  return state.data === null ? html`<p class="loading">Loading…</p>` : null;
}

/** A button that asks once more before it acts ("Delete" → "Delete alias x?" Yes / No). */
export function ConfirmButton({ label, question, onConfirm, testid, danger = true,
  disabled = false }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const yes = useRef(null);
  useEffect(() => { if (asking) yes.current?.focus(); }, [asking]);
  if (!asking) {
    return html`<button type="button" class=${danger ? 'danger' : ''} data-testid=${testid}
      disabled=${disabled} onClick=${() => setAsking(true)}>${label}</button>`;
  }
  const confirm = async () => {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return html`<span class="confirm" role="group" aria-label=${question}>
    <span class="question">${question}</span>
    <button type="button" class=${danger ? 'danger' : 'primary'} ref=${yes} disabled=${busy}
      data-testid=${`${testid}-confirm`} onClick=${confirm}>Yes</button>
    <button type="button" onClick=${() => setAsking(false)}>No</button></span>`;
}

/** Copies `text` to the clipboard and says so for two seconds. */
export function CopyButton({ text, label = 'Copy', testid = 'copy' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(text);
    setDone(true);
    setTimeout(() => setDone(false), 2000);
  };
  return html`<button type="button" data-testid=${testid} onClick=${copy}
    aria-live="polite">${done ? 'Copied' : label}</button>`;
}

/** A short-lived note after an action ("Saved"), read out by screen readers. */
export function useNotice() {
  const [text, setText] = useState(null);
  const timer = useRef(null);
  const show = (message) => {
    clearTimeout(timer.current);
    setText(message);
    timer.current = setTimeout(() => setText(null), 4000);
  };
  const Notice = () => html`<p class="notice" role="status" data-testid="notice">${text ?? ''}</p>`;
  return { show, Notice };
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** "just now", "5 min ago", "3 h ago", else the local date; "never" for no time. */
export function timeAgo(when) {
  if (!when) return 'never';
  const at = typeof when === 'number' ? when * (when < 1e12 ? 1000 : 1) : Date.parse(when);
  if (Number.isNaN(at)) return String(when);
  const seconds = Math.round((Date.now() - at) / 1000);
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(at).toLocaleString();
}

/** A page's title row: the heading and, on the right, its actions. */
export function PageHead({ title, children }) {
  return html`<div class="page-head"><h1>${title}</h1>
    <div class="page-actions">${children}</div></div>`;
}
