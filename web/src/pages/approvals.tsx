import { useCallback } from 'react';
import { useApi } from '../api/api-context';
import { Time } from '../clock';
import { ErrorNotice, Skeleton, useInterval, useLoad } from '../components/common';

/** The approvals waiting for a decision, oldest first as the API lists them; each opens its run, where the plan is and the decision is made. */
export function ApprovalsPage() {
  const api = useApi();
  const { data, error, loading, reload } = useLoad(() => api.listApprovals({ state: 'pending' }), []);
  // New requests and decisions made elsewhere show up without a reload.
  const refresh = useCallback(() => reload(), []);
  useInterval(refresh, 3000);
  const items = data?.items ?? [];

  return (
    <>
      <h1>Approvals</h1>
      <p className="muted">Runs waiting for a second person before they change anything. Open one to see its plan and decide.</p>
      <ErrorNotice error={error} />
      {loading && !data && <Skeleton lines={3} label="Loading approvals" />}
      <div className="table-wrap">
        <table className="approvals stack">
          <caption className="sr-only">Pending approvals</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Runbook</th>
              <th scope="col">Requested by</th>
              <th scope="col">Message</th>
              <th scope="col">Approvals</th>
              <th scope="col">Expires</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-run={a.runId}>
                <td data-label="Run">
                  <a href={`#/runs/${encodeURIComponent(a.runId)}`} className="mono">
                    {a.runId}
                  </a>
                </td>
                <td data-label="Runbook">{a.runbookId ?? '—'}</td>
                <td data-label="Requested by">{a.requestedBy}</td>
                <td data-label="Message">{a.message ?? <span className="muted">—</span>}</td>
                <td data-label="Approvals">
                  {a.approvals.length} of {a.minApprovals}
                </td>
                <td data-label="Expires">
                  <Time at={a.expiresAt} />
                </td>
              </tr>
            ))}
            {data && items.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No approvals are pending.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}
