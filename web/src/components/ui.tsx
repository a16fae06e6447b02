import type { ButtonHTMLAttributes, ComponentChildren, InputHTMLAttributes, Ref } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';

/** A labelled input; the error of its field is tied to it for screen readers. */
export function Field(
  props: Omit<InputHTMLAttributes<HTMLInputElement>, 'value'> & {
    label: string;
    hint?: ComponentChildren;
    error?: string | undefined;
    value?: string | number;
    onValue?: (value: string) => void;
    inputRef?: Ref<HTMLInputElement>;
  },
) {
  const { label, hint, error, onValue, id: given, inputRef, ...input } = props;
  const generated = useId();
  const id = (given as string | undefined) ?? generated;
  const described =
    [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      <input
        id={id}
        ref={inputRef}
        aria-invalid={error ? true : undefined}
        aria-describedby={described}
        onInput={onValue ? (e) => onValue((e.currentTarget as HTMLInputElement).value) : undefined}
        {...input}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

export function Select(props: {
  label: string;
  value: string;
  options: { value: string; label: string; disabled?: boolean }[];
  onValue: (value: string) => void;
  hint?: ComponentChildren;
  id?: string;
}) {
  const generated = useId();
  const id = props.id ?? generated;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled}>
            {o.label}
          </option>
        ))}
      </select>
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

export function Button(
  props: Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type'> & {
    busy?: boolean;
    kind?: 'primary' | 'secondary' | 'danger' | 'link';
    type?: 'button' | 'submit';
  },
) {
  const { busy, kind = 'primary', children, disabled, type = 'button', class: extra, ...rest } = props;
  return (
    <button
      type={type}
      class={`btn btn-${kind}${extra ? ` ${extra}` : ''}`}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      {...rest}
    >
      {busy ? <span class="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/** An error or notice, announced to screen readers as it appears. */
export function Alert(props: {
  kind?: 'error' | 'success' | 'info' | 'warning';
  children: ComponentChildren;
}) {
  const kind = props.kind ?? 'error';
  return (
    <div class={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : undefined;
  const retry = error instanceof ApiError ? error.extras.retry_after : undefined;
  return (
    <Alert>
      {message}
      {retry ? ` Try again in ${formatDuration(retry)}.` : ''}
      {code && code !== 'NETWORK' ? <span class="code"> ({code})</span> : null}
    </Alert>
  );
}

/** The field an API error is about, for showing it next to that input. */
export const fieldError = (error: unknown, field: string): string | undefined =>
  error instanceof ApiError && error.extras.field === field ? error.message : undefined;

export function Card(props: {
  title?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section
      class="card"
      id={props.id}
      aria-labelledby={props.title && props.id ? `${props.id}-title` : undefined}
    >
      {(props.title || props.actions) && (
        <header class="card-head">
          {props.title && <h2 id={props.id ? `${props.id}-title` : undefined}>{props.title}</h2>}
          {props.actions && <div class="card-actions">{props.actions}</div>}
        </header>
      )}
      {props.children}
    </section>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard refused (http, permissions): select the text for Ctrl+C instead.
      const range = document.createRange();
      const node = document.querySelector(`[data-copy="${CSS.escape(text)}"]`);
      if (node) {
        range.selectNodeContents(node);
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
      }
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <button type="button" class="btn btn-secondary btn-small" onClick={copy}>
      {copied ? 'Copied' : label}
      <span class="visually-hidden" aria-live="polite">
        {copied ? 'Copied to the clipboard' : ''}
      </span>
    </button>
  );
}

export function Secret({ value }: { value: string }) {
  return (
    <div class="secret">
      <code data-copy={value}>{value}</code>
      <CopyButton text={value} />
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status.replace(/_/g, '-')}`}>{status.replace(/_/g, ' ')}</span>;
}

/** A page title that takes the focus on navigation, so screen readers announce the new page. */
export function PageTitle({ children, sub }: { children: ComponentChildren; sub?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
    document.title = `${ref.current?.textContent ?? ''} · otpd`;
  }, []);
  return (
    <div class="page-title">
      <h1 tabIndex={-1} ref={ref}>
        {children}
      </h1>
      {sub && <p class="sub">{sub}</p>}
    </div>
  );
}

/** Loads data for a page; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const run = useCallback(() => {
    setLoading(true);
    load()
      .then((d) => {
        setData(d);
        setError(undefined);
      })
      .catch(setError)
      .finally(() => setLoading(false));
  }, deps);
  useEffect(run, [run]);
  return { data, error, loading, reload: run, setData };
}

/** Runs a form action: busy while it runs, its error kept for display. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (...args: A): Promise<R | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

export const Loading = () => (
  <p class="muted" role="status">
    <span class="spinner" aria-hidden="true" /> Loading…
  </p>
);

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${+(seconds / 3600).toFixed(1)} h`;
  return `${+(seconds / 86400).toFixed(1)} d`;
}

export const formatTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** Micro-units as money: 1 000 000 = 1.00. */
export const formatMoney = (micro: number, currency: string) =>
  `${(micro / 1_000_000).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 6 })} ${currency}`;
