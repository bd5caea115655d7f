import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError } from './api';

/** An error as the user should read it: what happened and, when known, what to do. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, 'error', String((error as Error).message ?? error));
  const hint: Record<string, string> = {
    unauthorized: 'Your key is no longer valid: sign out and sign in with another.',
    forbidden: 'This needs an admin key: sign in with the admin key.',
    rate_limited: 'Wait a few seconds and try again.',
    not_found: 'This server does not have that route yet; update PromptLab.',
  };
  return (
    <div role="alert" className="error">
      <strong>{e.code}</strong>: {e.message} {hint[e.code] ? <span>{hint[e.code]}</span> : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** Loads `load()` now and whenever `deps` change, and every `pollMs` if given. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number) {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<unknown>();
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const n = ++seq.current;
    try {
      const d = await load();
      if (n === seq.current) {
        setData(d);
        setError(undefined);
      }
    } catch (err) {
      if (n === seq.current) setError(err);
    }
  }, deps);
  useEffect(() => {
    void reload();
    if (!pollMs) return;
    const t = setInterval(() => void reload(), pollMs);
    return () => clearInterval(t);
  }, [reload, pollMs]);
  return { data, error, reload };
}

export function Badge({ kind, children, label }: { kind: string; children: ReactNode; label?: string }) {
  return <span className={`badge badge-${kind}`} {...(label ? { 'aria-label': label } : {})}>{children}</span>;
}

export const statusKind = (s: string) => (s === 'completed' ? 'ok' : s === 'dead' ? 'bad' : s === 'failed' ? 'warn' : 'info');

export const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

/** JSON pretty-printed, anything else as it is. */
export function Pre({ value, label }: { value: unknown; label: string }) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return <pre className="block" aria-label={label} tabIndex={0}>{text}</pre>;
}
