import { useState } from 'react';
import { useApi } from '../api/api-context';
import { canOperate, may, type Session, TERMINAL_STATES } from '../api/types';
import { Time } from '../clock';
import { ApprovalPanel } from '../components/approval';
import { duration, ErrorNotice, Json, runDuration, Section, Skeleton, StateBadge, useLoad, useTitle } from '../components/common';
import { ReportFrame } from '../components/report-frame';
import { StepsTable } from '../components/steps';
import { go } from '../router';
import { useLiveRun } from '../run-events';

export function RunPage({ id, session }: { id: string; session: Session }) {
  const api = useApi();
  const { run, error, live } = useLiveRun(id);
  const runbookId = run?.runbookId;
  const { data: runbook } = useLoad(() => (runbookId ? api.getRunbook(runbookId) : Promise.resolve(undefined)), [runbookId]);
  const ended = run !== undefined && TERMINAL_STATES.has(run.state);
  const { data: report, error: reportError } = useLoad(() => (ended ? api.getReport(id) : Promise.resolve(undefined)), [id, ended]);
  // "Run r0ab12cd… failed · backup-verification": the tab says which run and how it stands.
  useTitle(run ? `Run ${run.id.slice(0, 9)}… ${run.state}${run.dryRun ? ' (dry run)' : ''} · ${run.runbookId}` : error ? `Run ${id} not found` : null);
  // The gate step (core.approve): its state and note change when a request is made or decided.
  const approvalGate = run?.steps?.find((s) => s.uses === 'core.approve' && s.state === 'waiting') ?? run?.steps?.find((s) => s.uses === 'core.approve');
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [cancelling, setCancelling] = useState(false);

  const cancel = async () => {
    setCancelling(true);
    setActionError(undefined);
    try {
      await api.cancelRun(id);
    } catch (err) {
      setActionError(err);
    } finally {
      setCancelling(false);
    }
  };

  return (
    <>
      <p className="crumbs">
        <a href="#/runs">Runs</a> / {id}
      </p>
      <ErrorNotice error={error} />
      {!run && !error && (
        <div className="card">
          <Skeleton lines={8} label="Loading the run" />
        </div>
      )}
      {run && (
        <>
          <div className="title-row">
            <h1>
              {runbook?.title ?? run.runbookId} <StateBadge state={run.state} />
              {run.dryRun && <span className="tag">dry run</span>}
            </h1>
            {(canOperate(session) || may(session, 'cancel')) && (
              <div className="actions">
                {!ended && may(session, 'cancel') && (
                  <button type="button" className="danger" onClick={() => void cancel()} disabled={cancelling || run.cancelRequestedAt !== null}>
                    {run.cancelRequestedAt ? 'Cancel requested' : cancelling ? 'Cancelling…' : 'Cancel'}
                  </button>
                )}
                {canOperate(session) && (
                  <button type="button" onClick={() => go(`/runbooks/${encodeURIComponent(run.runbookId)}?rerun=${encodeURIComponent(run.id)}`)}>
                    Re-run
                  </button>
                )}
              </div>
            )}
          </div>
          <ErrorNotice error={actionError} />
          <p className="muted" aria-live="polite">
            {live ? 'Live: updates as the run goes.' : ended ? 'This run has ended.' : ''}
          </p>
          <ApprovalPanel runId={id} session={session} watch={approvalGate ? `${run.state}/${approvalGate.state}/${approvalGate.note ?? ''}` : null} />
          <Section title="Run">
            <dl className="facts grid">
              <dt>Run id</dt>
              <dd className="mono">{run.id}</dd>
              <dt>Runbook</dt>
              <dd>
                <a href={`#/runbooks/${encodeURIComponent(run.runbookId)}`}>{run.runbookId}</a>
              </dd>
              <dt>Trigger</dt>
              <dd>{run.trigger.kind}</dd>
              <dt>Actor</dt>
              <dd>{run.actor}</dd>
              <dt>Reason</dt>
              <dd>{run.reason ?? <span className="muted">—</span>}</dd>
              <dt>Accepted</dt>
              <dd>
                <Time at={run.createdAt} />
              </dd>
              <dt>Started</dt>
              <dd>
                <Time at={run.startedAt} />
              </dd>
              <dt>Ended</dt>
              <dd>
                <Time at={run.endedAt} />
              </dd>
              <dt>Took</dt>
              <dd>{duration(runDuration(run))}</dd>
              {run.parent && (
                <>
                  <dt>Started by</dt>
                  <dd>
                    <a href={`#/runs/${run.parent.runId}`}>{run.parent.runId}</a>
                  </dd>
                </>
              )}
              {run.children && run.children.length > 0 && (
                <>
                  <dt>Started</dt>
                  <dd>
                    {run.children.map((c) => (
                      <div key={c.runId}>
                        <a href={`#/runs/${c.runId}`}>{c.runbookId}</a> <StateBadge state={c.state} />
                      </div>
                    ))}
                  </dd>
                </>
              )}
            </dl>
            {run.error && (
              <div className="error" role="alert">
                <code className="error-code">{run.error.code}</code> {run.error.message}
              </div>
            )}
            <p>
              <a href={`#/audit?runId=${encodeURIComponent(run.id)}`}>Audit records of this run</a>
            </p>
            <h3>Parameters</h3>
            <Json value={run.parameters} label="Parameters" />
          </Section>
          <Section title="Steps">
            <StepsTable definition={runbook?.steps ?? []} cleanup={runbook?.cleanup} recorded={run.steps ?? []} />
          </Section>
          <Section title="Findings and figures">
            {!ended && <p className="muted">Shown when the run ends.</p>}
            <ErrorNotice error={reportError} />
            {report && (
              <>
                {report.figures.length === 0 && report.findings.length === 0 && <p className="muted">This run recorded no findings or figures.</p>}
                {report.figures.length > 0 && (
                  <table className="stack">
                    <caption>Figures</caption>
                    <thead>
                      <tr>
                        <th scope="col">Figure</th>
                        <th scope="col">Value</th>
                        <th scope="col">Step</th>
                      </tr>
                    </thead>
                    <tbody>
                      {report.figures.map((f) => (
                        <tr key={`${f.stepId}/${f.id}`}>
                          <td data-label="Figure">{f.label}</td>
                          <td data-label="Value" className="mono">
                            {String(f.value)}
                            {f.unit ? ` ${f.unit}` : ''}
                          </td>
                          <td data-label="Step">{f.stepId}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
                {report.findings.length > 0 && (
                  <ul className="findings" aria-label="Findings">
                    {report.findings.map((f) => (
                      <li key={`${f.stepId}/${f.id}`}>
                        <StateBadge state={f.passed ? 'passed' : 'failed'} /> {f.title}
                        {f.measured !== undefined && f.measured !== null && (
                          <span className="mono">
                            {' '}
                            — measured {String(f.measured)}
                            {f.unit ? ` ${f.unit}` : ''}
                            {f.target !== undefined && f.target !== null ? `, target ${String(f.target)}${f.unit ? ` ${f.unit}` : ''}` : ''}
                          </span>
                        )}
                        {f.detail && <div className="muted">{f.detail}</div>}
                      </li>
                    ))}
                  </ul>
                )}
              </>
            )}
          </Section>
          <Section
            title="Report"
            actions={
              <span className="downloads">
                <a href={api.reportUrl(id, 'json')} download={`${id}.json`}>
                  JSON
                </a>
                <a href={api.reportUrl(id, 'md')} download={`${id}.md`}>
                  Markdown
                </a>
                <a href={api.reportUrl(id, 'html')} target="_blank" rel="noopener">
                  Open
                </a>
              </span>
            }
          >
            {ended ? (
              <ReportFrame title={`Report of run ${id}`} src={api.reportUrl(id, 'html')} />
            ) : (
              <p className="muted">The report is shown here when the run ends (Open shows it as it stands now).</p>
            )}
          </Section>
        </>
      )}
    </>
  );
}
