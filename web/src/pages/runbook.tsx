import { useEffect, useMemo, useState } from 'react';
import { api, ApiError, canOperate, type FieldError, type RunbookDetail, type RunView, type Session, TERMINAL } from '../api';
import { ErrorNotice, Json, Section, StateBadge, useLoad } from '../components/common';
import { type FormValues, initialValues, SchemaFields, toParameters, unplacedErrors } from '../components/schema-form';
import { StepsTable } from '../components/steps';
import { go, routeQuery } from '../router';
import { useLiveRun } from '../run-events';
import { triggerText } from './runbooks';

function newIdempotencyKey(): string {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export function RunbookPage({ id, session }: { id: string; session: Session }) {
  const { data: runbook, error } = useLoad(() => api<RunbookDetail>('GET', `/v1/runbooks/${encodeURIComponent(id)}`), [id]);
  return (
    <>
      <p className="crumbs">
        <a href="#/runbooks">Runbooks</a> / {id}
      </p>
      <ErrorNotice error={error} />
      {runbook && (
        <>
          <h1>{runbook.title}</h1>
          {runbook.description && <p>{runbook.description}</p>}
          <p>
            <a href={`#/runs?runbook=${encodeURIComponent(id)}`}>Runs of this runbook</a>
          </p>
          {canOperate(session) ? (
            <StartRun runbook={runbook} />
          ) : (
            <p className="note">Your role ({session.role}) can read runbooks and runs; an operator or admin starts runs.</p>
          )}
          <Section title="Steps">
            <StepsTable definition={runbook.steps} cleanup={runbook.cleanup} recorded={[]} definitionOnly />
          </Section>
          <Section title="Guards and triggers">
            <dl className="facts">
              <dt>Triggers</dt>
              <dd>{(runbook.triggers ?? []).map(triggerText).join(' · ') || 'manual'}</dd>
            </dl>
            <Json value={runbook.guards ?? {}} label="Guards" />
          </Section>
        </>
      )}
    </>
  );
}

/** Plan first: a dry run of the same parameters shows every step and AWS call; then Run starts the real one. */
function StartRun({ runbook }: { runbook: RunbookDetail }) {
  const rerunOf = routeQuery().get('rerun');
  const [values, setValues] = useState<FormValues>(() => initialValues(runbook.parameters));
  const [reason, setReason] = useState('');
  const [idemKey, setIdemKey] = useState(newIdempotencyKey);
  const [fieldErrors, setFieldErrors] = useState<FieldError[]>([]);
  const [formError, setFormError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState<'plan' | 'run' | null>(null);
  const [plan, setPlan] = useState<{ runId: string; params: string } | null>(null);
  const planRun = useLiveRun(plan?.runId);

  useEffect(() => {
    if (!rerunOf) return;
    api<RunView>('GET', `/v1/runs/${encodeURIComponent(rerunOf)}`).then(
      (r) => {
        setValues(initialValues(runbook.parameters, r.parameters));
        setReason(r.reason ? `re-run of ${r.id}: ${r.reason}` : `re-run of ${r.id}`);
      },
      (e) => setFormError(e),
    );
  }, [rerunOf, runbook.parameters]);

  const parameters = useMemo(() => toParameters(runbook.parameters, values), [runbook.parameters, values]);
  const paramsJson = JSON.stringify(parameters);
  const planEnded = planRun.run !== undefined && TERMINAL.has(planRun.run.state);
  const planCurrent = plan !== null && plan.params === paramsJson;
  const canRun = planCurrent && planEnded && busy === null;

  const failed = (err: unknown) => {
    if (err instanceof ApiError && err.fieldErrors.length > 0) {
      setFieldErrors(err.fieldErrors);
      const loose = unplacedErrors(runbook.parameters, err.fieldErrors);
      setFormError(loose.length > 0 || err.code !== 'PARAMETERS_INVALID' ? err : undefined);
    } else setFormError(err);
  };

  const showPlan = async () => {
    setBusy('plan');
    setFieldErrors([]);
    setFormError(undefined);
    setPlan(null);
    try {
      const r = await api<RunView>('POST', `/v1/runbooks/${encodeURIComponent(runbook.id)}/runs`, {
        body: { parameters, dryRun: true, reason: reason ? `plan: ${reason}` : 'plan before run (console)' },
      });
      setPlan({ runId: r.id, params: paramsJson });
    } catch (err) {
      failed(err);
    } finally {
      setBusy(null);
    }
  };

  const startRun = async () => {
    setBusy('run');
    setFormError(undefined);
    try {
      const r = await api<RunView>('POST', `/v1/runbooks/${encodeURIComponent(runbook.id)}/runs`, {
        body: { parameters, dryRun: false, ...(reason ? { reason } : {}) },
        headers: { 'Idempotency-Key': idemKey },
      });
      go(`/runs/${r.id}`);
    } catch (err) {
      failed(err);
      setBusy(null);
    }
  };

  return (
    <Section title="Start a run">
      <form
        className="start-form"
        onSubmit={(e) => {
          e.preventDefault();
          void showPlan();
        }}
        noValidate
      >
        {rerunOf && <p className="note">Parameters of run {rerunOf}; secret fields must be typed again.</p>}
        <fieldset>
          <legend>Parameters</legend>
          <SchemaFields schema={runbook.parameters} values={values} onChange={setValues} errors={fieldErrors} disabled={busy !== null} />
        </fieldset>
        <div className="field">
          <label htmlFor="run-reason">Reason</label>
          <input id="run-reason" value={reason} maxLength={2000} onChange={(e) => setReason(e.target.value)} aria-describedby="run-reason-help" />
          <div className="help" id="run-reason-help">
            Recorded with the run and in the audit log.
          </div>
        </div>
        <div className="field">
          <label htmlFor="run-idempotency-key">Idempotency key</label>
          <input id="run-idempotency-key" value={idemKey} onChange={(e) => setIdemKey(e.target.value)} aria-describedby="run-idem-help" />
          <div className="help" id="run-idem-help">
            Pressing Run again with this key returns the same run instead of starting a second one.
          </div>
        </div>
        {fieldErrors.length > 0 && formError === undefined && (
          <p className="error" role="alert">
            The API refused the parameters: see the fields marked above.
          </p>
        )}
        <ErrorNotice error={formError} />
        <div className="actions">
          <button type="submit" disabled={busy !== null}>
            {busy === 'plan' ? 'Planning…' : 'Show plan'}
          </button>
          <button type="button" className="primary" disabled={!canRun} onClick={() => void startRun()} aria-describedby="run-hint">
            {busy === 'run' ? 'Starting…' : 'Run'}
          </button>
          <span id="run-hint" className="muted">
            {!plan ? 'Run is enabled once the plan for these parameters is shown.' : !planCurrent ? 'The parameters changed since the plan: show the plan again.' : !planEnded ? 'Planning…' : 'Run starts the real run with these parameters.'}
          </span>
        </div>
      </form>
      {plan && (
        <div className="plan" aria-live="polite">
          <h3>
            Plan (dry run <a href={`#/runs/${plan.runId}`}>{plan.runId}</a>) {planRun.run && <StateBadge state={planRun.run.state} />}
          </h3>
          <ErrorNotice error={planRun.error} />
          {planRun.run?.error && (
            <div className="error" role="alert">
              <code className="error-code">{planRun.run.error.code}</code> {planRun.run.error.message}
            </div>
          )}
          <p className="muted">Steps that change AWS list the exact calls they would make; read-only steps ran and show what they found.</p>
          <StepsTable definition={runbook.steps} cleanup={runbook.cleanup} recorded={planRun.run?.steps ?? []} dryRunPlan />
        </div>
      )}
    </Section>
  );
}
