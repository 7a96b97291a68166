import { api, type RunbookDetail, type RunView } from '../api';
import { ErrorNotice, StateBadge, Time, useLoad } from '../components/common';

interface Row {
  runbook: RunbookDetail;
  lastRun: RunView | undefined;
  schedules: Array<{ id: string; nextFireAt: string | null; paused: boolean }>;
}

export function triggerText(t: Record<string, any>): string {
  if (t.manual) return 'manual';
  if (t.schedule) return `schedule ${t.schedule.cron ?? t.schedule.pattern ?? ''}${t.schedule.timezone ? ` (${t.schedule.timezone})` : ''}`.trim();
  if (t.alarm) return `alarm ${t.alarm.alarmName ?? ''}${t.alarm.state ? ` → ${t.alarm.state}` : ''}`.trim();
  return Object.keys(t).join(', ');
}

export function RunbooksPage() {
  const { data, error, loading } = useLoad<Row[]>(async () => {
    const [list, schedules] = await Promise.all([
      api<{ items: Array<{ id: string }> }>('GET', '/v1/runbooks'),
      api<{ items: Array<{ id: string; runbookId: string; nextFireAt: string | null; paused: boolean }> }>('GET', '/v1/schedules').catch(() => ({ items: [] })),
    ]);
    return Promise.all(
      list.items.map(async ({ id }) => {
        const [runbook, runs] = await Promise.all([
          api<RunbookDetail>('GET', `/v1/runbooks/${encodeURIComponent(id)}`),
          api<{ items: RunView[] }>('GET', `/v1/runs?runbook=${encodeURIComponent(id)}&limit=1`),
        ]);
        return { runbook, lastRun: runs.items[0], schedules: schedules.items.filter((s) => s.runbookId === id) };
      }),
    );
  }, []);

  return (
    <>
      <h1>Runbooks</h1>
      <ErrorNotice error={error} />
      {loading && !data && <p className="loading">Loading…</p>}
      <ul className="cards" aria-label="Runbooks">
        {data?.map(({ runbook, lastRun, schedules }) => (
          <li key={runbook.id} className="card runbook-card">
            <h2>
              <a href={`#/runbooks/${encodeURIComponent(runbook.id)}`}>{runbook.title}</a>
            </h2>
            <div className="muted mono">{runbook.id}</div>
            {runbook.description && <p>{runbook.description}</p>}
            <dl className="facts">
              <dt>Triggers</dt>
              <dd>{(runbook.triggers ?? []).length ? (runbook.triggers ?? []).map(triggerText).join(' · ') : 'manual'}</dd>
              {schedules.map((s) => (
                <div key={s.id} className="fact-row">
                  <dt>Next fire</dt>
                  <dd>{s.paused ? 'paused' : <Time at={s.nextFireAt} />}</dd>
                </div>
              ))}
              <dt>Last run</dt>
              <dd>
                {lastRun ? (
                  <a href={`#/runs/${lastRun.id}`}>
                    <StateBadge state={lastRun.state} /> <Time at={lastRun.createdAt} />
                  </a>
                ) : (
                  <span className="muted">never</span>
                )}
              </dd>
            </dl>
          </li>
        ))}
      </ul>
    </>
  );
}
