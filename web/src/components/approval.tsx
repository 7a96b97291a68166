import { useState } from 'react';
import { useApi } from '../api/api-context';
import { ApiError } from '../api/client';
import { type ApprovalView, isApprover, type Session, may } from '../api/types';
import { Time } from '../clock';
import { ErrorNotice, Json, Section, StateBadge, useLoad } from './common';

/**
 * The approval a run asked for, on the run's page: the plan the approver is asked to accept (the
 * resolved parameters and the exact AWS calls to come), its hash, who asked and until when, and
 * Approve / Reject for those the runbook lets decide. The decision carries the plan hash shown,
 * so a plan that changed since the page loaded is refused by the API (409) rather than approved.
 */
export function ApprovalPanel({ runId, session, watch }: { runId: string; session: Session; watch: string | null }) {
  // `watch` changes when the run's state or its gate step does: the request appears (or is decided)
  // then. It is null while the run has recorded no gate step, so most runs never ask (nor 404).
  const api = useApi();
  const {
    data: approval,
    error,
    setData,
    reload,
  } = useLoad<ApprovalView | undefined>(
    () =>
      watch === null
        ? Promise.resolve(undefined)
        : api.getApproval(runId).catch((e: unknown) => {
            if (e instanceof ApiError && e.code === 'APPROVAL_NOT_FOUND') return undefined;
            throw e;
          }),
    [runId, watch],
    { keepOnChange: true },
  );
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const [decisionError, setDecisionError] = useState<unknown>(undefined);

  if (!approval) return <ErrorNotice error={error} title="Approval" />;

  const decide = async (decision: 'approve' | 'reject') => {
    setBusy(decision);
    setDecisionError(undefined);
    try {
      const body: { planHash: string; comment?: string } = { planHash: approval.planHash };
      if (comment.trim() !== '') body.comment = comment.trim();
      setData(await (decision === 'approve' ? api.approve(runId, body) : api.reject(runId, body)));
      setComment('');
    } catch (err) {
      setDecisionError(err);
      // The plan moved on: show the current one (the refusal stays on screen to say why it changed).
      if (err instanceof ApiError && (err.code === 'APPROVAL_PLAN_CHANGED' || err.code === 'APPROVAL_ALREADY_DECIDED')) reload();
    } finally {
      setBusy(null);
    }
  };

  const pending = approval.state === 'pending';
  const isRequester = session.name === approval.requestedBy;
  const decided = approval.decisions.find((d) => d.actor === session.name);
  const approver = isApprover(session, approval);
  // Steps whose condition is already false will not run: listed apart, so the approver reads only what will happen.
  const steps = (approval.plan.steps ?? []).filter((s) => !s.skipped);
  const skipped = (approval.plan.steps ?? []).filter((s) => s.skipped);
  const who = [...approval.approvers.roles.map((r) => `role ${r}`), ...approval.approvers.keys.map((k) => `key ${k}`)].join(', ') || 'nobody';

  return (
    <Section title="Approval" actions={<StateBadge state={approval.state} />}>
      {approval.message && <p className="approval-message">{approval.message}</p>}
      <dl className="facts grid">
        <dt>Requested by</dt>
        <dd>{approval.requestedBy}</dd>
        <dt>Approvals</dt>
        <dd>
          {approval.approvals.length} of {approval.minApprovals} needed{approval.approvals.length > 0 ? ` (${approval.approvals.join(', ')})` : ''}
        </dd>
        <dt>Who may approve</dt>
        <dd>{who} (never the requester)</dd>
        <dt>Expires</dt>
        <dd>
          <Time at={approval.expiresAt} />
        </dd>
        {approval.decidedAt && (
          <>
            <dt>Decided</dt>
            <dd>
              <Time at={approval.decidedAt} /> {approval.reason && <span className="muted">({approval.reason})</span>}
            </dd>
          </>
        )}
        <dt>Plan hash</dt>
        <dd className="mono plan-hash">{approval.planHash}</dd>
      </dl>
      <h3>Plan</h3>
      <ul className="approval-plan" aria-label="Approval plan">
        {steps.length === 0 && <li className="muted">No changing steps are left to run.</li>}
        {steps.map((s) => (
          <li key={s.stepId} data-step={s.stepId}>
            <strong>{s.stepId}</strong> <span className="muted">{s.uses}</span>
            {s.note && <div className="muted">{s.note}</div>}
            {s.calls?.map((c, i) => (
              <div key={i} className="planned-call">
                <code>
                  {c.service}:{c.operation}
                </code>
                {c.region ? <span className="muted"> in {c.region}</span> : null}
                <Json value={c.input} label={`${s.stepId}: ${c.service}:${c.operation} input`} />
              </div>
            ))}
          </li>
        ))}
      </ul>
      {skipped.length > 0 && (
        <p className="muted skipped-steps" data-skipped={skipped.map((s) => s.stepId).join(' ')}>
          Will not run (their condition is false): {skipped.map((s) => s.stepId).join(', ')}.
        </p>
      )}
      <details>
        <summary>Parameters as planned</summary>
        <Json value={approval.plan.parameters} label="Planned parameters" />
      </details>
      {approval.decisions.length > 0 && (
        <>
          <h3>Decisions</h3>
          <ul aria-label="Decisions">
            {approval.decisions.map((d) => (
              <li key={`${d.actor}/${d.at}`}>
                <StateBadge state={d.decision === 'approve' ? 'approved' : 'rejected'} /> {d.actor} <span className="muted">({d.role})</span>,{' '}
                <Time at={d.at} />
                {d.comment && <>: “{d.comment}”</>}
              </li>
            ))}
          </ul>
        </>
      )}
      {pending && (isRequester || approver) && (
        <form className="approval-decide" onSubmit={(e) => e.preventDefault()} aria-label="Decide">
          {isRequester && <p className="note">You started this run, so you cannot approve it: another person must. You can still reject it to call it off.</p>}
          {!isRequester && decided && <p className="note">You already decided on this run; a further approval must come from someone else.</p>}
          {!decided && (
            <>
              <div className="field">
                <label htmlFor="approval-comment">Comment</label>
                <textarea
                  id="approval-comment"
                  rows={2}
                  maxLength={2000}
                  value={comment}
                  onChange={(e) => setComment(e.target.value)}
                  aria-describedby="approval-comment-help"
                />
                <span id="approval-comment-help" className="help muted">
                  Recorded in the audit log; required to reject. The decision applies to plan {approval.planHash.slice(0, 12)} as shown.
                </span>
              </div>
              <div className="actions">
                {!isRequester && (
                  <button type="button" className="primary" onClick={() => void decide('approve')} disabled={busy !== null}>
                    {busy === 'approve' ? 'Approving…' : 'Approve'}
                  </button>
                )}
                <button type="button" className="danger" onClick={() => void decide('reject')} disabled={busy !== null}>
                  {busy === 'reject' ? 'Rejecting…' : 'Reject'}
                </button>
              </div>
            </>
          )}
        </form>
      )}
      {pending && !isRequester && !approver && may(session, 'approve') && <p className="note">You are not an approver of this run ({who}).</p>}
      <ErrorNotice error={decisionError} title="Not recorded" />
    </Section>
  );
}
