import { useApi } from '../api/api-context';
import type { RunbookDetail, RunView, ScheduleView } from '../api/types';
import { Time } from '../clock';
import { ErrorNotice, Skeleton, StateBadge, useLoad } from '../components/common';
import { Markdown } from '../components/markdown';
import { cronInWords } from '../cron-words';

interface Row {
  runbook: RunbookDetail;
  lastRun: RunView | undefined;
  schedules: ScheduleView[];
}

export function triggerText(t: Record<string, any>): string {
  if (t.manual) return 'manual';
  if (t.schedule) return `schedule: ${cronInWords(String(t.schedule.cron ?? t.schedule.pattern ?? ''), t.schedule.timezone ?? 'UTC')}`;
  if (t.alarm) return `alarm ${t.alarm.alarmName ?? ''}${t.alarm.state ? ` → ${t.alarm.state}` : ''}`.trim();
  return Object.keys(t).join(', ');
}

export function RunbooksPage() {
  const api = useApi();
  const { data, error, loading } = useLoad<Row[]>(async () => {
    const [list, schedules] = await Promise.all([api.listRunbooks(), api.listSchedules().catch(() => ({ items: [] as ScheduleView[] }))]);
    return Promise.all(
      list.items.map(async ({ id }) => {
        const [runbook, runs] = await Promise.all([api.getRunbook(id), api.listRuns({ runbook: id, limit: '1' })]);
        return { runbook, lastRun: runs.items[0], schedules: schedules.items.filter((s) => s.runbookId === id) };
      }),
    );
  }, []);

  return (
    <>
      <h1>Runbooks</h1>
      <ErrorNotice error={error} />
      {loading && !data && (
        <ul className="cards" aria-label="Loading runbooks">
          {[0, 1, 2, 3].map((i) => (
            <li key={i} className="card">
              <Skeleton lines={4} />
            </li>
          ))}
        </ul>
      )}
      <ul className="cards" aria-label="Runbooks">
        {data?.map(({ runbook, lastRun, schedules }) => (
          <li key={runbook.id} className="card runbook-card">
            <h2>
              <a href={`#/runbooks/${encodeURIComponent(runbook.id)}`}>{runbook.title}</a>
            </h2>
            <div className="muted mono">{runbook.id}</div>
            <Markdown text={runbook.description} className="clamp" />
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
