import { useEffect, useMemo, useState } from 'react';
import { useApi } from '../api/api-context';
import { ApiError } from '../api/client';
import { canOperate, type FieldError, parametersOf, type RunbookDetail, type RunView, type Session, TERMINAL_STATES } from '../api/types';
import { Time } from '../clock';
import { duration, ErrorNotice, Json, runDuration, Section, Skeleton, StateBadge, useLoad, useTitle } from '../components/common';
import { Markdown } from '../components/markdown';
import { brokenRules, type FormValues, initialValues, SchemaFields, toParameters, unplacedErrors } from '../components/schema-form';
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
  const api = useApi();
  const { data: runbook, error, loading } = useLoad(() => api.getRunbook(id), [id]);
  useTitle(runbook ? runbook.title : error ? `Runbook ${id} not found` : null);
  return (
    <>
      <p className="crumbs">
        <a href="#/runbooks">Runbooks</a> / {id}
      </p>
      <ErrorNotice error={error} />
      {loading && !runbook && !error && (
        <div className="card">
          <Skeleton lines={6} label="Loading the runbook" />
        </div>
      )}
      {runbook && (
        <>
          <h1>{runbook.title}</h1>
          <Markdown text={runbook.description} />
          <RecentRuns runbookId={id} />
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

/** The runbook's recent real runs: how often they succeed and how long they take, newest last. */
function RecentRuns({ runbookId }: { runbookId: string }) {
  const api = useApi();
  const { data } = useLoad(() => api.listRuns({ runbook: runbookId, limit: '30' }), [runbookId]);
  const real = (data?.items ?? []).filter((r) => !r.dryRun);
  const ended = real.filter((r) => TERMINAL_STATES.has(r.state));
  const succeeded = ended.filter((r) => r.state === 'succeeded').length;
  const trend = ended
    .slice()
    .reverse()
    .map((r) => ({ run: r, ms: runDuration(r) ?? 0 }));
  const max = Math.max(1, ...trend.map((t) => t.ms));
  return (
    <Section title="Recent runs" actions={<a href={`#/runs?runbook=${encodeURIComponent(runbookId)}`}>All runs of this runbook</a>}>
      {!data && <Skeleton lines={2} />}
      {data && ended.length === 0 && <p className="muted">No real run has ended yet (plans are dry runs and are not counted).</p>}
      {ended.length > 0 && (
        <>
          <p className="success-rate">
            <strong>{Math.round((succeeded / ended.length) * 100)}%</strong> succeeded ({succeeded} of the last {ended.length} ended runs); median{' '}
            {duration(median(trend.map((t) => t.ms)))}.
          </p>
          <svg
            className="trend"
            viewBox={`0 0 ${trend.length * 12} 40`}
            preserveAspectRatio="none"
            role="img"
            aria-label={`Duration of the last ${trend.length} runs, oldest first`}
          >
            {trend.map((t, i) => {
              const h = Math.max(2, (t.ms / max) * 38);
              return (
                <rect key={t.run.id} x={i * 12 + 1} y={40 - h} width={10} height={h} className={`bar bar-${t.run.state}`}>
                  <title>{`${t.run.id} ${t.run.state}, ${duration(t.ms)}`}</title>
                </rect>
              );
            })}
          </svg>
          <ul className="recent-runs">
            {real.slice(0, 5).map((r) => (
              <li key={r.id}>
                <a href={`#/runs/${r.id}`} className="mono">
                  {r.id}
                </a>{' '}
                <StateBadge state={r.state} /> <Time at={r.createdAt} /> <span className="muted">took {duration(runDuration(r))}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** How to fix a failed plan, by the error it ended with. */
function fixHint(code: string | undefined): string {
  switch (code) {
    case 'PARAMETERS_INVALID':
    case 'INVALID_REQUEST':
      return 'Correct the parameters marked above and show the plan again.';
    case 'PREFLIGHT_FAILED':
      return 'A check before the run refused it: fix what it names (the resource, its state or a parameter) and show the plan again.';
    case 'AWS_ACCESS_DENIED':
    case 'ACCESS_DENIED':
      return 'runbookd may not read something it needs: give its role the actions the runbook\u2019s IAM policy lists, then plan again.';
    default:
      return 'Fix what the failed step names (a parameter, or the resource in the account), then show the plan again. A real run would very likely fail the same way.';
  }
}

/** Plan first: a dry run of the same parameters shows every step and AWS call; then Run starts the real one. */
function StartRun({ runbook }: { runbook: RunbookDetail }) {
  const api = useApi();
  const schema = parametersOf(runbook);
  const rerunOf = routeQuery().get('rerun');
  const [values, setValues] = useState<FormValues>(() => initialValues(schema));
  const [reason, setReason] = useState('');
  const [idemKey, setIdemKey] = useState(newIdempotencyKey);
  const [fieldErrors, setFieldErrors] = useState<FieldError[]>([]);
  const [formError, setFormError] = useState<unknown>(undefined);
  const [ruleErrors, setRuleErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState<'plan' | 'run' | null>(null);
  const [plan, setPlan] = useState<{ runId: string; params: string } | null>(null);
  const [runAnyway, setRunAnyway] = useState(false);
  const planRun = useLiveRun(plan?.runId);
  // A re-run's form waits for the earlier run's parameters. Drawn before they arrive, it showed the
  // defaults and an empty reason (and whatever was typed meanwhile was overwritten when they came).
  const [prefill, setPrefill] = useState<'loading' | 'done' | 'failed'>(rerunOf ? 'loading' : 'done');

  useEffect(() => {
    if (!rerunOf) return;
    let live = true;
    api.getRun(rerunOf).then(
      (r: RunView) => {
        if (!live) return;
        setValues(initialValues(schema, r.parameters));
        setReason(r.reason ? `re-run of ${r.id}: ${r.reason}` : `re-run of ${r.id}`);
        setPrefill('done');
      },
      (e) => {
        if (!live) return;
        setFormError(e);
        setPrefill('failed');
      },
    );
    return () => {
      live = false;
    };
  }, [api, rerunOf, schema]);

  const parameters = useMemo(() => toParameters(schema, values), [schema, values]);
  const paramsJson = JSON.stringify(parameters);
  const planEnded = planRun.run !== undefined && TERMINAL_STATES.has(planRun.run.state);
  const planFailed = planEnded && planRun.run?.state !== 'succeeded';
  const planCurrent = plan !== null && plan.params === paramsJson;
  const canRun = planCurrent && planEnded && busy === null && (!planFailed || runAnyway);
  const failedSteps = (planRun.run?.steps ?? []).filter((s) => s.state === 'failed');

  const failed = (err: unknown) => {
    if (err instanceof ApiError && err.fieldErrors.length > 0) {
      setFieldErrors(err.fieldErrors);
      const loose = unplacedErrors(schema, err.fieldErrors);
      setFormError(loose.length > 0 || err.code !== 'PARAMETERS_INVALID' ? err : undefined);
    } else setFormError(err);
  };

  const showPlan = async () => {
    setFieldErrors([]);
    setFormError(undefined);
    // The "give one of" rules are the schema's own: said here, before the service refuses.
    const broken = brokenRules(schema, parameters);
    setRuleErrors(broken);
    if (broken.length > 0) return;
    setBusy('plan');
    setPlan(null);
    setRunAnyway(false);
    try {
      const r = await api.startRun(runbook.id, { parameters, dryRun: true, reason: reason ? `plan: ${reason}` : 'plan before run (console)' });
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
      const r = await api.startRun(runbook.id, { parameters, dryRun: false, ...(reason ? { reason } : {}) }, idemKey);
      go(`/runs/${r.id}`);
    } catch (err) {
      failed(err);
      setBusy(null);
    }
  };

  if (prefill === 'loading')
    return (
      <Section title="Start a run">
        <Skeleton lines={4} label={`Loading the parameters of run ${rerunOf}`} />
      </Section>
    );

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
        {rerunOf && prefill === 'done' && <p className="note">Parameters of run {rerunOf}; secret fields must be typed again.</p>}
        {rerunOf && prefill === 'failed' && (
          <p className="note">The parameters of run {rerunOf} could not be read: the form shows the runbook&apos;s defaults.</p>
        )}
        <fieldset>
          <legend>Parameters</legend>
          <SchemaFields schema={schema} values={values} onChange={setValues} errors={fieldErrors} disabled={busy !== null} />
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
        {ruleErrors.length > 0 && (
          <div className="error" role="alert">
            {ruleErrors.map((r) => (
              <div key={r}>{r}</div>
            ))}
          </div>
        )}
        {fieldErrors.length > 0 && formError === undefined && (
          <p className="error" role="alert">
            The API refused the parameters: see the fields marked above.
          </p>
        )}
        <ErrorNotice error={formError} />
        {planCurrent && planFailed && (
          <div className="plan-failed" role="alert">
            <strong>The plan failed</strong>, so a real run would most likely fail too.
            <ul>
              {failedSteps.map((s) => (
                <li key={`${s.phase}/${s.id}`}>
                  Step <strong>{s.id}</strong>: <code className="error-code">{s.error?.code}</code> {s.error?.message}
                </li>
              ))}
              {failedSteps.length === 0 && planRun.run?.error && (
                <li>
                  <code className="error-code">{planRun.run.error.code}</code> {planRun.run.error.message}
                </li>
              )}
            </ul>
            <p>
              <strong>How to fix it:</strong> {fixHint(failedSteps[0]?.error?.code ?? planRun.run?.error?.code)}
            </p>
            <div className="field field-check">
              <input id="run-anyway" type="checkbox" checked={runAnyway} onChange={(e) => setRunAnyway(e.target.checked)} />
              <label htmlFor="run-anyway">Run anyway: I have read why the plan failed</label>
            </div>
          </div>
        )}
        <div className="actions">
          <button type="submit" disabled={busy !== null}>
            {busy === 'plan' ? 'Planning…' : 'Show plan'}
          </button>
          <button type="button" className={planFailed ? 'danger' : 'primary'} disabled={!canRun} onClick={() => void startRun()} aria-describedby="run-hint">
            {busy === 'run' ? 'Starting…' : planFailed && planCurrent ? 'Run anyway' : 'Run'}
          </button>
          <span id="run-hint" className="muted">
            {!plan
              ? 'Run is enabled once the plan for these parameters is shown.'
              : !planCurrent
                ? 'The parameters changed since the plan: show the plan again.'
                : !planEnded
                  ? 'Planning…'
                  : planFailed
                    ? 'The plan failed: tick "Run anyway" to start the real run regardless.'
                    : 'Run starts the real run with these parameters.'}
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
