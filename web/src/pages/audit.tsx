import { useState } from 'react';
import { api } from '../api';
import { ErrorNotice, Json, Time, useLoad } from '../components/common';
import { routeQuery } from '../router';

interface AuditRecord {
  seq: number;
  at: string;
  kind: string;
  runId: string | null;
  actor: string;
  data: Record<string, unknown>;
  hash?: string;
}

const PAGE = 50;

export function AuditPage() {
  const [runId, setRunId] = useState(() => routeQuery().get('runId') ?? '');
  const [applied, setApplied] = useState(runId);
  const [afters, setAfters] = useState<number[]>([]);
  const after = afters[afters.length - 1];
  const qs = new URLSearchParams({ limit: String(PAGE), ...(applied && { runId: applied }), ...(after !== undefined && { afterSeq: String(after) }) }).toString();
  const { data, error } = useLoad(() => api<{ items: AuditRecord[]; nextAfterSeq: number | null }>('GET', `/v1/audit?${qs}`), [qs]);
  const [verify, setVerify] = useState<{ ok: boolean; records: number; headHash?: string; firstBadRecord?: unknown } | undefined>(undefined);
  const [verifyError, setVerifyError] = useState<unknown>(undefined);
  const [verifying, setVerifying] = useState(false);

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
              setVerify(await api('GET', '/v1/audit/verify'));
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
              <span className="ok">Intact: {verify.records} records, head {String(verify.headHash ?? '').slice(0, 16)}…</span>
            ) : (
              <span className="bad">BROKEN at record {JSON.stringify(verify.firstBadRecord)}</span>
            ))}
        </span>
      </div>
      <ErrorNotice error={verifyError} />
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(runId.trim());
          setAfters([]);
        }}
      >
        <div className="field">
          <label htmlFor="audit-run">Run id</label>
          <input id="audit-run" value={runId} onChange={(e) => setRunId(e.target.value)} placeholder="all runs" />
        </div>
        <button type="submit">Show</button>
      </form>
      <ErrorNotice error={error} />
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Audit records in order</caption>
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
              <tr key={r.seq}>
                <td className="mono">{r.seq}</td>
                <td>
                  <Time at={r.at} />
                </td>
                <td className="mono">{r.kind}</td>
                <td>{r.runId ? <a href={`#/runs/${r.runId}`} className="mono">{r.runId}</a> : '—'}</td>
                <td>{r.actor}</td>
                <td>
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
                  No records.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={afters.length === 0} onClick={() => setAfters(afters.slice(0, -1))}>
          Earlier
        </button>
        <button type="button" disabled={data?.nextAfterSeq == null} onClick={() => data?.nextAfterSeq != null && setAfters([...afters, data.nextAfterSeq])}>
          Later
        </button>
      </nav>
    </>
  );
}
