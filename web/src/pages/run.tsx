import { useState } from 'react';
import { api, canOperate, type RunbookDetail, type Session, TERMINAL } from '../api';
import { ApprovalPanel } from '../components/approval';
import { ErrorNotice, Json, Section, StateBadge, Time, useLoad } from '../components/common';
import { StepsTable } from '../components/steps';
import { go } from '../router';
import { useLiveRun } from '../run-events';

interface Report {
  figures: Array<{ id: string; label: string; value: unknown; unit?: string; stepId: string }>;
  findings: Array<{ id: string; title: string; passed: boolean; measured?: unknown; target?: unknown; unit?: string; detail?: string; stepId: string }>;
}

export function RunPage({ id, session }: { id: string; session: Session }) {
  const { run, error, live } = useLiveRun(id);
  const runbookId = run?.runbookId;
  const { data: runbook } = useLoad(() => (runbookId ? api<RunbookDetail>('GET', `/v1/runbooks/${encodeURIComponent(runbookId)}`) : Promise.resolve(undefined)), [runbookId]);
  const ended = run !== undefined && TERMINAL.has(run.state);
  const { data: report, error: reportError } = useLoad(() => (ended ? api<Report>('GET', `/v1/runs/${encodeURIComponent(id)}/report`) : Promise.resolve(undefined)), [id, ended]);
  // The gate step (core.approve): its state and note change when a request is made or decided.
  const approvalGate = run?.steps?.find((s) => s.uses === 'core.approve' && s.state === 'waiting') ?? run?.steps?.find((s) => s.uses === 'core.approve');
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [cancelling, setCancelling] = useState(false);

  const cancel = async () => {
    setCancelling(true);
    setActionError(undefined);
    try {
      await api('POST', `/v1/runs/${encodeURIComponent(id)}/cancel`);
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
      {run && (
        <>
          <div className="title-row">
            <h1>
              {runbook?.title ?? run.runbookId} <StateBadge state={run.state} />
              {run.dryRun && <span className="tag">dry run</span>}
            </h1>
            {canOperate(session) && (
              <div className="actions">
                {!ended && (
                  <button type="button" className="danger" onClick={() => void cancel()} disabled={cancelling || run.cancelRequestedAt !== null}>
                    {run.cancelRequestedAt ? 'Cancel requested' : cancelling ? 'Cancelling…' : 'Cancel'}
                  </button>
                )}
                <button type="button" onClick={() => go(`/runbooks/${encodeURIComponent(run.runbookId)}?rerun=${encodeURIComponent(run.id)}`)}>
                  Re-run
                </button>
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
                  <table>
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
                          <td>{f.label}</td>
                          <td className="mono">
                            {String(f.value)}
                            {f.unit ? ` ${f.unit}` : ''}
                          </td>
                          <td>{f.stepId}</td>
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
                <a href={`/v1/runs/${encodeURIComponent(id)}/report?format=json`} download={`${id}.json`}>
                  JSON
                </a>
                <a href={`/v1/runs/${encodeURIComponent(id)}/report?format=md`} download={`${id}.md`}>
                  Markdown
                </a>
                <a href={`/v1/runs/${encodeURIComponent(id)}/report?format=html`} target="_blank" rel="noopener">
                  Open
                </a>
              </span>
            }
          >
            {ended ? (
              <iframe className="report" title={`Report of run ${id}`} src={`/v1/runs/${encodeURIComponent(id)}/report?format=html`} />
            ) : (
              <p className="muted">The report is shown here when the run ends (Open shows it as it stands now).</p>
            )}
          </Section>
        </>
      )}
    </>
  );
}
