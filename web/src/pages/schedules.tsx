import { useState } from 'react';
import { api, canOperate, type Session } from '../api';
import { ErrorNotice, Json, Section, Time, useLoad } from '../components/common';

interface ScheduleView {
  id: string;
  runbookId: string;
  cron: string;
  timezone: string;
  parameters: Record<string, unknown>;
  paused: boolean;
  pausedAt: string | null;
  pausedBy: string | null;
  nextFireAt: string | null;
  lastTickAt: string | null;
  recentTicks: Array<{ tickAt: string; decision: 'run' | 'skipped'; reason: string | null; runId: string | null }>;
}

export function SchedulesPage({ session }: { session: Session }) {
  const { data, error, reload } = useLoad(() => api<{ items: ScheduleView[] }>('GET', '/v1/schedules'), []);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | null>(null);

  const toggle = async (s: ScheduleView) => {
    setBusy(s.id);
    setActionError(undefined);
    try {
      await api('POST', `/v1/schedules/${encodeURIComponent(s.id)}/${s.paused ? 'resume' : 'pause'}`);
      reload();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <h1>Schedules</h1>
      <ErrorNotice error={error} />
      <ErrorNotice error={actionError} />
      {data && data.items.length === 0 && <p className="muted">No runbook has a schedule trigger.</p>}
      {data?.items.map((s) => (
        <Section
          key={s.id}
          title={s.id}
          actions={
            canOperate(session) ? (
              <button type="button" onClick={() => void toggle(s)} disabled={busy === s.id}>
                {s.paused ? 'Resume' : 'Pause'}
              </button>
            ) : undefined
          }
        >
          <dl className="facts grid">
            <dt>Runbook</dt>
            <dd>
              <a href={`#/runbooks/${encodeURIComponent(s.runbookId)}`}>{s.runbookId}</a>
            </dd>
            <dt>Pattern</dt>
            <dd className="mono">
              {s.cron} ({s.timezone})
            </dd>
            <dt>Next fire</dt>
            <dd>{s.paused ? `paused by ${s.pausedBy ?? '?'}` : <Time at={s.nextFireAt} />}</dd>
            <dt>Last tick</dt>
            <dd>
              <Time at={s.lastTickAt} />
            </dd>
          </dl>
          <details>
            <summary>Parameters</summary>
            <Json value={s.parameters} label={`${s.id} parameters`} />
          </details>
          <h3>Recent ticks</h3>
          {s.recentTicks.length === 0 ? (
            <p className="muted">None yet.</p>
          ) : (
            <ul className="ticks">
              {s.recentTicks.map((t) => (
                <li key={t.tickAt}>
                  <Time at={t.tickAt} />: {t.decision === 'run' && t.runId ? <a href={`#/runs/${t.runId}`}>run {t.runId}</a> : `skipped (${t.reason ?? 'no reason'})`}
                </li>
              ))}
            </ul>
          )}
        </Section>
      ))}
    </>
  );
}
