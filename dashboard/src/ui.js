// Shared pieces of every page: fields with labels, errors with the API's message, badges, times.
import { createContext } from '../vendor/preact.js';
import { useCallback, useContext, useEffect, useRef, useState } from '../vendor/hooks.js';
import { html } from './html.js';

/** What every page of an organization needs: who, where, what they may do, live events. */
export const AppContext = createContext(null);
export const useApp = () => useContext(AppContext);

let fieldIds = 0;
export function Field({ label, hint, children }) {
  const [id] = useState(() => `field-${(fieldIds += 1)}`);
  const control = typeof children === 'function' ? children(id) : children;
  return html`<div class="field"><label for=${id}>${label}</label>${control}${hint && html`<small class="hint">${hint}</small>`}</div>`;
}

export function Input({ label, hint, value, onInput, ...rest }) {
  return html`<${Field} label=${label} hint=${hint}>${(id) => html`
    <input id=${id} value=${value} onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />`}<//>`;
}

export function Select({ label, value, onChange, options, ...rest }) {
  return html`<${Field} label=${label}>${(id) => html`
    <select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)} ...${rest}>
      ${options.map(([key, text]) => html`<option value=${key}>${text}</option>`)}
    </select>`}<//>`;
}

export function Checkbox({ label, checked, onChange, ...rest }) {
  return html`<label class="check"><input type="checkbox" checked=${checked}
    onChange=${(e) => onChange(e.currentTarget.checked)} ...${rest} /> <span>${label}</span></label>`;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  const details = (error.details || []).filter((d) => d && (d.field || d.message));
  return html`<div class="note error" role="alert">
    <strong>${error.message || String(error)}</strong>
    ${details.length > 0 && html`<ul>${details.map((d) => html`<li>${d.field ? `${d.field.replace(/^body\./, '')}: ` : ''}${d.message}</li>`)}</ul>`}
  </div>`;
}

export const Note = ({ kind = 'info', children }) => html`<div class=${`note ${kind}`} role="status">${children}</div>`;

export function Badge({ value }) {
  return html`<span class=${`badge badge-${value}`}>${value}</span>`;
}

export function ago(iso) {
  if (!iso) return 'never';
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export const Time = ({ at }) => html`<time datetime=${at || ''} title=${at ? new Date(at).toLocaleString() : ''}>${ago(at)}</time>`;

/** A form's submit: runs `action`, shows its error, disables the button while it runs. */
export function useAction(action) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = useCallback(async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await action(...args);
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, [action]);
  return { run, busy, error, setError };
}

/** Data from `load()`, loaded again when `deps` change or `reload()` is called. */
export function useData(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const latest = useRef(0);
  const reload = useCallback(async () => {
    const ticket = (latest.current += 1);
    try {
      const data = await load();
      if (ticket === latest.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (ticket === latest.current) setState((s) => ({ ...s, error, loading: false }));
    }
  }, deps);
  useEffect(() => { reload(); }, [reload]);
  return { ...state, reload };
}

/** Call `handler(event)` for each live event of the organization while mounted. */
export function useLive(handler) {
  const { live } = useApp();
  const saved = useRef(handler);
  saved.current = handler;
  useEffect(() => live.subscribe((event) => saved.current(event)), [live]);
}

/** `fn` at most once per `ms`, after the last call (for reloads driven by bursts of events). */
export function useDebounced(fn, ms = 120) {
  const timer = useRef(null);
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => saved.current(), ms);
  }, [ms]);
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="muted" aria-live="polite">${what}…</p>`;
}

/** A section that shows its data, its loading state or its error (with a retry), never nothing. */
export function Loaded({ state, children }) {
  if (state.error && !state.data) {
    return html`<div><${ErrorNote} error=${state.error} /><button class="secondary" onClick=${state.reload}>Try again</button></div>`;
  }
  if (!state.data) return html`<${Loading} />`;
  return children(state.data);
}

export function PageTitle({ children, actions }) {
  useEffect(() => {
    const text = typeof children === 'string' ? children : 'Miyabi';
    document.title = `${text} · Miyabi`;
  }, [children]);
  return html`<div class="page-head"><h1>${children}</h1>${actions && html`<div class="actions">${actions}</div>`}</div>`;
}
