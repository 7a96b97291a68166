import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError } from '../api/client';

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge state-${state.replace(/\s+/g, '-')}`}>{state}</span>;
}

/** An API error as the user sees it: its code and message (and field errors, when not shown by a field). */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, 'ERROR', String((error as Error)?.message ?? error));
  return (
    <div className="error" role="alert">
      {title && <strong>{title}: </strong>}
      <code className="error-code">{e.code}</code> {e.message}
    </div>
  );
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined || value === null) return <span className="muted">—</span>;
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** How long a run took (or has taken so far), from its start. */
export function runDuration(run: { startedAt: string | null; endedAt: string | null; createdAt: string }): number | null {
  const from = Date.parse(run.startedAt ?? run.createdAt);
  const to = run.endedAt ? Date.parse(run.endedAt) : null;
  return to === null || Number.isNaN(from) ? null : Math.max(0, to - from);
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  const hid = `section-${(id ?? title).toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={hid} className="card">
      <div className="card-head">
        <h2 id={hid}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/**
 * Loads something from the API; `reload` runs it again. The last data stays when a later load
 * fails (offline, a restart): the page keeps showing it, and the error says why it is not fresh.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
  opts: { keepOnChange?: boolean } = {},
): { data: T | undefined; error: unknown; loading: boolean; reload: () => void; setData: (t: T) => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  // The caller lists what `load` depends on, as with useEffect.
  const run = useCallback(load, deps);
  const lastRun = useRef(run);
  useEffect(() => {
    let live = true;
    // New inputs (another run, another filter): what was shown belongs to the old ones.
    if (lastRun.current !== run) {
      lastRun.current = run;
      if (!opts.keepOnChange) setData(undefined);
    }
    setLoading(true);
    run().then(
      (d) => live && (setData(d), setError(undefined), setLoading(false)),
      (e) => live && (setError(e), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [run, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1), setData };
}

/** Re-runs `fn` every `ms` while the page is open (live states on list pages). */
export function useInterval(fn: () => void, ms: number | null): void {
  useEffect(() => {
    if (ms === null) return;
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  }, [fn, ms]);
}

/** The tab's title: what the page shows, then the product. */
export function useTitle(title: string | null): void {
  useEffect(() => {
    if (title) document.title = `${title} · runbookd`;
  }, [title]);
}

/** Grey blocks where content is about to be, so a loading page has its shape at once. */
export function Skeleton({ lines = 3, label = 'Loading' }: { lines?: number; label?: string }) {
  return (
    <div className="skeleton" role="status" aria-label={label}>
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className={`skeleton-line skeleton-line-${i % 3}`} />
      ))}
    </div>
  );
}

/** Previous / next page buttons of a cursor-paged list. */
export function Pager({
  page,
  hasPrevious,
  hasNext,
  onPrevious,
  onNext,
  previousLabel = 'Newer',
  nextLabel = 'Older',
}: {
  page: number;
  hasPrevious: boolean;
  hasNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  previousLabel?: string;
  nextLabel?: string;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={!hasPrevious} onClick={onPrevious}>
        {previousLabel}
      </button>
      <span className="muted">page {page}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        {nextLabel}
      </button>
    </nav>
  );
}

/** A labelled filter dropdown with an "all" choice (the empty value). */
export function FilterSelect({
  id,
  label,
  value,
  options,
  onChange,
  allLabel = 'all',
}: {
  id: string;
  label: string;
  value: string;
  options: ReadonlyArray<string | { value: string; label: string }>;
  onChange: (value: string) => void;
  allLabel?: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{allLabel}</option>
        {options.map((o) => {
          const { value: v, label: l } = typeof o === 'string' ? { value: o, label: o } : o;
          return (
            <option key={v} value={v}>
              {l}
            </option>
          );
        })}
      </select>
    </div>
  );
}
