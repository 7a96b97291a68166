import { useState } from 'react';
import { useApi } from '../api/api-context';
import type { AuditVerifyResult } from '../api/types';
import { fromLocalInput, Time, toLocalInput, useZone } from '../clock';
import { ErrorNotice, FilterSelect, Json, Pager, Skeleton, useLoad } from '../components/common';
import { setRouteQuery, useRoute } from '../router';

const PAGE = 50;

/** Families and kinds worth filtering by; a family (ending in a dot) matches each of its kinds. */
const KINDS = [
  { value: 'run.', label: 'run.* (every run record)' },
  'run.accepted',
  'run.refused',
  'run.started',
  'run.ended',
  'run.cancel-requested',
  { value: 'step.', label: 'step.* (steps)' },
  { value: 'aws.', label: 'aws.* (AWS calls)' },
  { value: 'approval.', label: 'approval.* (approvals)' },
  { value: 'schedule.', label: 'schedule.* (schedules)' },
  'schedule.paused',
  'schedule.resumed',
  { value: 'notification.', label: 'notification.* (notifications)' },
  'sns.received',
];

/** Newest first, filtered by kind, actor, run and time; every filter and the page in the URL. */
export function AuditPage() {
  const api = useApi();
  const { zone } = useZone();
  const { query } = useRoute();
  const filter = {
    runId: query.get('runId') ?? '',
    kind: query.get('kind') ?? '',
    actor: query.get('actor') ?? '',
    since: query.get('since') ?? '',
    until: query.get('until') ?? '',
  };
  const befores = (query.get('page') ?? '').split(',').filter(Boolean);
  const before = befores[befores.length - 1];
  const [runId, setRunId] = useState(filter.runId);
  const [actor, setActor] = useState(filter.actor);
  const key = JSON.stringify([filter, before]);
  const { data, error, loading } = useLoad(
    () =>
      api.listAudit({
        order: 'desc',
        limit: String(PAGE),
        runId: filter.runId || undefined,
        kind: filter.kind || undefined,
        actor: filter.actor || undefined,
        since: filter.since || undefined,
        until: filter.until || undefined,
        beforeSeq: before,
      }),
    [key],
  );
  const [verify, setVerify] = useState<AuditVerifyResult | undefined>(undefined);
  const [verifyError, setVerifyError] = useState<unknown>(undefined);
  const [verifying, setVerifying] = useState(false);
  const set = (changes: Partial<typeof filter>, page: string[] = []) => setRouteQuery({ ...filter, ...changes, page: page.join(',') || undefined });

  return (
    <>
      <h1>Audit</h1>
      <div className="actions">
        <button
          type="button"
          disabled={verifying}
          onClick={async () => {
            setVerifying(true);
            setVerifyError(undefined);
            try {
              setVerify(await api.verifyAudit());
            } catch (err) {
              setVerifyError(err);
            } finally {
              setVerifying(false);
            }
          }}
        >
          {verifying ? 'Verifying…' : 'Verify the chain'}
        </button>
        <span role="status" aria-live="polite">
          {verify &&
            (verify.ok ? (
              <span className="ok">
                Intact: {verify.records} records, head {String(verify.headHash ?? '').slice(0, 16)}…
              </span>
            ) : (
              <span className="bad">BROKEN at record {JSON.stringify(verify.firstBadRecord)}</span>
            ))}
        </span>
      </div>
      <ErrorNotice error={verifyError} />
      <form
        className="filters"
        aria-label="Filter audit records"
        onSubmit={(e) => {
          e.preventDefault();
          set({ runId: runId.trim(), actor: actor.trim() });
        }}
      >
        <FilterSelect id="audit-kind" label="Kind" value={filter.kind} options={KINDS} onChange={(v) => set({ kind: v })} />
        <div className="field">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" value={actor} onChange={(e) => setActor(e.target.value)} placeholder="anyone" />
        </div>
        <div className="field">
          <label htmlFor="audit-run">Run id</label>
          <input id="audit-run" value={runId} onChange={(e) => setRunId(e.target.value)} placeholder="all runs" />
        </div>
        <div className="field">
          <label htmlFor="audit-since">From ({zone === 'utc' ? 'UTC' : 'local'})</label>
          <input
            id="audit-since"
            type="datetime-local"
            value={toLocalInput(filter.since, zone)}
            onChange={(e) => set({ since: fromLocalInput(e.target.value, zone) })}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-until">To ({zone === 'utc' ? 'UTC' : 'local'})</label>
          <input
            id="audit-until"
            type="datetime-local"
            value={toLocalInput(filter.until, zone)}
            onChange={(e) => set({ until: fromLocalInput(e.target.value, zone) })}
          />
        </div>
        <button type="submit">Show</button>
      </form>
      <ErrorNotice error={error} />
      {loading && !data && <Skeleton lines={6} label="Loading audit records" />}
      <div className="table-wrap">
        <table className="audit stack">
          <caption className="sr-only">Audit records, newest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">At</th>
              <th scope="col">Kind</th>
              <th scope="col">Run</th>
              <th scope="col">Actor</th>
              <th scope="col">Data</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((r) => (
              <tr key={r.seq} data-seq={r.seq}>
                <td data-label="#" className="mono">
                  {r.seq}
                </td>
                <td data-label="At">
                  <Time at={r.at} />
                </td>
                <td data-label="Kind" className="mono">
                  {r.kind}
                </td>
                <td data-label="Run">
                  {r.runId ? (
                    <a href={`#/runs/${r.runId}`} className="mono">
                      {r.runId}
                    </a>
                  ) : (
                    '—'
                  )}
                </td>
                <td data-label="Actor">{r.actor}</td>
                <td data-label="Data">
                  <details>
                    <summary>data</summary>
                    <Json value={r.data} label={`record ${r.seq} data`} />
                  </details>
                </td>
              </tr>
            ))}
            {data && data.items.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No records match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        page={befores.length + 1}
        hasPrevious={befores.length > 0}
        hasNext={data?.nextBeforeSeq != null}
        onPrevious={() => set({}, befores.slice(0, -1))}
        onNext={() => data?.nextBeforeSeq != null && set({}, [...befores, String(data.nextBeforeSeq)])}
      />
    </>
  );
}
