import { useCallback, useState } from 'react';
import { useApi } from '../api/api-context';
import { RUN_STATES, TRIGGER_KINDS, type RunState, type TriggerKind } from '../api/types';
import { fromLocalInput, Time, toLocalInput, useZone } from '../clock';
import { duration, ErrorNotice, FilterSelect, Pager, runDuration, Skeleton, StateBadge, useInterval, useLoad } from '../components/common';
import { setRouteQuery, useRoute } from '../router';

const PAGE = 25;

/** The list's filters and page, all in the URL (#/runs?state=failed&q=orders&page=…), so a link or reload shows the same list. */
export function RunsPage() {
  const api = useApi();
  const { zone } = useZone();
  const { query } = useRoute();
  const filter = {
    runbook: query.get('runbook') ?? '',
    state: query.get('state') ?? '',
    trigger: query.get('trigger') ?? '',
    q: query.get('q') ?? '',
    since: query.get('since') ?? '',
    until: query.get('until') ?? '',
  };
  // Cursors of the pages before this one (newest-first cursor API), so Newer works after a reload too.
  const cursors = (query.get('page') ?? '').split(',').filter(Boolean);
  const cursor = cursors[cursors.length - 1];
  const [text, setText] = useState(filter.q);
  const { data: runbooks } = useLoad(() => api.listRunbooks(), []);
  const key = JSON.stringify([filter, cursor]);
  const { data, error, loading, reload } = useLoad(
    () =>
      api.listRuns({
        limit: String(PAGE),
        runbook: filter.runbook || undefined,
        state: (filter.state || undefined) as RunState | undefined,
        trigger: (filter.trigger || undefined) as TriggerKind | undefined,
        q: filter.q || undefined,
        since: filter.since || undefined,
        until: filter.until || undefined,
        cursor,
      }),
    [key],
  );
  // States change without a reload: the page is read again every few seconds while it is open.
  const refresh = useCallback(() => reload(), [key]);
  useInterval(refresh, 3000);

  const set = (changes: Partial<typeof filter>, page: string[] = []) => setRouteQuery({ ...filter, ...changes, page: page.join(',') || undefined });

  return (
    <>
      <h1>Runs</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ q: text.trim() });
        }}
        aria-label="Filter runs"
      >
        <div className="field field-grow">
          <label htmlFor="filter-q">Search</label>
          <input id="filter-q" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="run id, runbook, actor, reason, parameter" />
        </div>
        <FilterSelect
          id="filter-runbook"
          label="Runbook"
          value={filter.runbook}
          options={(runbooks?.items ?? []).map((r) => r.id)}
          onChange={(v) => set({ runbook: v })}
        />
        <FilterSelect id="filter-state" label="State" value={filter.state} options={RUN_STATES} onChange={(v) => set({ state: v })} />
        <FilterSelect id="filter-trigger" label="Trigger" value={filter.trigger} options={TRIGGER_KINDS} onChange={(v) => set({ trigger: v })} />
        <div className="field">
          <label htmlFor="filter-since">From ({zone === 'utc' ? 'UTC' : 'local'})</label>
          <input
            id="filter-since"
            type="datetime-local"
            value={toLocalInput(filter.since, zone)}
            onChange={(e) => set({ since: fromLocalInput(e.target.value, zone) })}
          />
        </div>
        <div className="field">
          <label htmlFor="filter-until">To ({zone === 'utc' ? 'UTC' : 'local'})</label>
          <input
            id="filter-until"
            type="datetime-local"
            value={toLocalInput(filter.until, zone)}
            onChange={(e) => set({ until: fromLocalInput(e.target.value, zone) })}
          />
        </div>
        <button type="submit">Search</button>
      </form>
      <ErrorNotice error={error} />
      {loading && !data && <Skeleton lines={6} label="Loading runs" />}
      <div className="table-wrap">
        <table className="runs stack">
          <caption className="sr-only">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Runbook</th>
              <th scope="col">State</th>
              <th scope="col">Trigger</th>
              <th scope="col">Actor</th>
              <th scope="col">Accepted</th>
              <th scope="col">Ended</th>
              <th scope="col">Took</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((r) => (
              <tr key={r.id} data-run={r.id}>
                <td data-label="Run">
                  <a href={`#/runs/${r.id}`} className="mono">
                    {r.id}
                  </a>
                  {r.dryRun && <span className="tag">dry run</span>}
                </td>
                <td data-label="Runbook">{r.runbookId}</td>
                <td data-label="State">
                  <StateBadge state={r.state} />
                </td>
                <td data-label="Trigger">{r.trigger.kind}</td>
                <td data-label="Actor">{r.actor}</td>
                <td data-label="Accepted">
                  <Time at={r.createdAt} />
                </td>
                <td data-label="Ended">
                  <Time at={r.endedAt} />
                </td>
                <td data-label="Took">{duration(runDuration(r))}</td>
              </tr>
            ))}
            {data && data.items.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No runs match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        page={cursors.length + 1}
        hasPrevious={cursors.length > 0}
        hasNext={!!data?.nextCursor}
        onPrevious={() => set({}, cursors.slice(0, -1))}
        onNext={() => data?.nextCursor && set({}, [...cursors, data.nextCursor])}
      />
    </>
  );
}
