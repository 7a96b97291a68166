import { useCallback, useState } from 'react';
import { api, type RunView } from '../api';
import { ErrorNotice, StateBadge, Time, useInterval, useLoad } from '../components/common';
import { routeQuery } from '../router';

const STATES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'aborted', 'cancelled', 'rejected'];
const TRIGGERS = ['rest', 'cli', 'alarm', 'schedule', 'parent'];
const PAGE = 25;

export function RunsPage() {
  const [filter, setFilter] = useState(() => {
    const q = routeQuery();
    return { runbook: q.get('runbook') ?? '', state: q.get('state') ?? '', trigger: q.get('trigger') ?? '' };
  });
  // Cursors of the pages before this one, so Previous works on a newest-first cursor API.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const { data: runbooks } = useLoad(() => api<{ items: Array<{ id: string; title: string }> }>('GET', '/v1/runbooks'), []);
  const query = new URLSearchParams({ limit: String(PAGE), ...(filter.runbook && { runbook: filter.runbook }), ...(filter.state && { state: filter.state }), ...(filter.trigger && { trigger: filter.trigger }), ...(cursor && { cursor }) });
  const qs = query.toString();
  const { data, error, reload } = useLoad(() => api<{ items: RunView[]; nextCursor: string | null }>('GET', `/v1/runs?${qs}`), [qs]);
  // States change without a reload: the page is read again every few seconds while it is open.
  const refresh = useCallback(() => reload(), [qs]);
  useInterval(refresh, 3000);

  const set = (k: 'runbook' | 'state' | 'trigger', v: string) => {
    setFilter({ ...filter, [k]: v });
    setCursors([]);
  };

  return (
    <>
      <h1>Runs</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter runs">
        <div className="field">
          <label htmlFor="filter-runbook">Runbook</label>
          <select id="filter-runbook" value={filter.runbook} onChange={(e) => set('runbook', e.target.value)}>
            <option value="">all</option>
            {runbooks?.items.map((r) => (
              <option key={r.id} value={r.id}>
                {r.id}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-state">State</label>
          <select id="filter-state" value={filter.state} onChange={(e) => set('state', e.target.value)}>
            <option value="">all</option>
            {STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-trigger">Trigger</label>
          <select id="filter-trigger" value={filter.trigger} onChange={(e) => set('trigger', e.target.value)}>
            <option value="">all</option>
            {TRIGGERS.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
      </form>
      <ErrorNotice error={error} />
      <div className="table-wrap">
        <table className="runs">
          <caption className="sr-only">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Runbook</th>
              <th scope="col">State</th>
              <th scope="col">Trigger</th>
              <th scope="col">Actor</th>
              <th scope="col">Accepted</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((r) => (
              <tr key={r.id} data-run={r.id}>
                <td>
                  <a href={`#/runs/${r.id}`} className="mono">
                    {r.id}
                  </a>
                  {r.dryRun && <span className="tag">dry run</span>}
                </td>
                <td>{r.runbookId}</td>
                <td>
                  <StateBadge state={r.state} />
                </td>
                <td>{r.trigger.kind}</td>
                <td>{r.actor}</td>
                <td>
                  <Time at={r.createdAt} />
                </td>
              </tr>
            ))}
            {data && data.items.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No runs match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!data?.nextCursor} onClick={() => data?.nextCursor && setCursors([...cursors, data.nextCursor])}>
          Older
        </button>
      </nav>
    </>
  );
}
