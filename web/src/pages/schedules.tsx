import { useState } from 'react';
import { useApi } from '../api/api-context';
import { canOperate, type ScheduleView, type Session } from '../api/types';
import { Time } from '../clock';
import { ErrorNotice, Json, Section, Skeleton, useLoad } from '../components/common';
import { cronInWords } from '../cron-words';

export function SchedulesPage({ session }: { session: Session }) {
  const api = useApi();
  const { data, error, loading, reload } = useLoad(() => api.listSchedules(), []);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<string | null>(null);
  // The schedule being paused: its reason is asked for first, and audited with the pause.
  const [pausing, setPausing] = useState<string | null>(null);
  const [reason, setReason] = useState('');

  const act = async (s: ScheduleView, what: () => Promise<unknown>) => {
    setBusy(s.id);
    setActionError(undefined);
    try {
      await what();
      setPausing(null);
      setReason('');
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
      {loading && !data && <Skeleton lines={6} label="Loading schedules" />}
      {data && data.items.length === 0 && <p className="muted">No runbook has a schedule trigger.</p>}
      {data?.items.map((s) => (
        <Section
          key={s.id}
          title={s.id}
          actions={
            canOperate(session) ? (
              s.paused ? (
                <button type="button" onClick={() => void act(s, () => api.resumeSchedule(s.id))} disabled={busy === s.id}>
                  Resume
                </button>
              ) : pausing !== s.id ? (
                <button type="button" onClick={() => (setPausing(s.id), setReason(''))} disabled={busy === s.id}>
                  Pause
                </button>
              ) : undefined
            ) : undefined
          }
        >
          {pausing === s.id && !s.paused && (
            <form
              className="pause-form"
              aria-label={`Pause ${s.id}`}
              onSubmit={(e) => {
                e.preventDefault();
                if (reason.trim()) void act(s, () => api.pauseSchedule(s.id, reason.trim()));
              }}
            >
              <div className="field">
                <label htmlFor={`pause-reason-${s.id}`}>Why pause it?</label>
                <input
                  id={`pause-reason-${s.id}`}
                  required
                  maxLength={2000}
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                  aria-describedby={`pause-help-${s.id}`}
                />
                <span className="help" id={`pause-help-${s.id}`}>
                  Recorded in the audit log with your name. Ticks while paused are not caught up.
                </span>
              </div>
              <div className="actions">
                <button type="submit" className="danger" disabled={busy === s.id || reason.trim() === ''}>
                  Pause schedule
                </button>
                <button type="button" onClick={() => setPausing(null)}>
                  Keep it running
                </button>
              </div>
            </form>
          )}
          <dl className="facts grid">
            <dt>Runbook</dt>
            <dd>
              <a href={`#/runbooks/${encodeURIComponent(s.runbookId)}`}>{s.runbookId}</a>
            </dd>
            <dt>When</dt>
            <dd>
              <span className="schedule-words">{cronInWords(s.cron, s.timezone)}</span>{' '}
              <span className="muted mono">
                ({s.cron}, {s.timezone})
              </span>
            </dd>
            <dt>Next fires</dt>
            <dd>
              {s.paused ? (
                <>
                  paused by {s.pausedBy ?? '?'} since <Time at={s.pausedAt} />
                  {s.pauseReason && <>: “{s.pauseReason}”</>}
                </>
              ) : (
                <ul className="next-fires">
                  {s.nextFires.map((f) => (
                    <li key={f}>
                      <Time at={f} />
                    </li>
                  ))}
                </ul>
              )}
            </dd>
            <dt>Last tick</dt>
            <dd>{s.lastTickAt ? <Time at={s.lastTickAt} /> : <span className="muted">none yet</span>}</dd>
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
                  <Time at={t.tickAt} />:{' '}
                  {t.decision === 'run' && t.runId ? <a href={`#/runs/${t.runId}`}>run {t.runId}</a> : `skipped (${t.reason ?? 'no reason'})`}
                </li>
              ))}
            </ul>
          )}
        </Section>
      ))}
    </>
  );
}
