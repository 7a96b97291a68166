import { useCallback } from 'react';
import { api, type ApprovalView } from '../api';
import { ErrorNotice, Time, useInterval, useLoad } from '../components/common';

/** The approvals waiting for a decision, oldest first as the API lists them; each opens its run, where the plan is and the decision is made. */
export function ApprovalsPage() {
  const { data, error, reload } = useLoad(() => api<{ items: ApprovalView[] }>('GET', '/v1/approvals?state=pending'), []);
  // New requests and decisions made elsewhere show up without a reload.
  const refresh = useCallback(() => reload(), []);
  useInterval(refresh, 3000);
  const items = data?.items ?? [];

  return (
    <>
      <h1>Approvals</h1>
      <p className="muted">Runs waiting for a second person before they change anything. Open one to see its plan and decide.</p>
      <ErrorNotice error={error} />
      <div className="table-wrap">
        <table className="approvals">
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
                <td>
                  <a href={`#/runs/${encodeURIComponent(a.runId)}`} className="mono">
                    {a.runId}
                  </a>
                </td>
                <td>{a.runbookId ?? '—'}</td>
                <td>{a.requestedBy}</td>
                <td>{a.message ?? <span className="muted">—</span>}</td>
                <td>
                  {a.approvals.length} of {a.minApprovals}
                </td>
                <td>
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
