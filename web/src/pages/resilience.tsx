import { useApi } from '../api/api-context';
import type { ResilienceObjective, ResilienceResource } from '../api/types';
import { Time } from '../clock';
import { ErrorNotice, FilterSelect, Skeleton, useLoad } from '../components/common';
import { setRouteQuery, useRoute } from '../router';

const VERDICTS = ['breached', 'stale', 'no-evidence', 'met', 'untiered'] as const;

/** Verdict colours reuse the run-state badges: breached reads as failed, met as succeeded. */
const VERDICT_CLASS: Record<string, string> = {
  breached: 'state-failed',
  stale: 'state-waiting',
  'no-evidence': 'state-cancelled',
  met: 'state-succeeded',
  untiered: 'state-skipped',
};

/**
 * Every resource of the estate against its tier, worst first (the API's order), filtered by tier,
 * account and verdict in the URL; each verdict links to the run that proves it.
 */
export function ResiliencePage() {
  const api = useApi();
  const { query } = useRoute();
  const filter = { tier: query.get('tier') ?? '', account: query.get('account') ?? '', verdict: query.get('verdict') ?? '' };
  const key = JSON.stringify(filter);
  const { data, error, loading } = useLoad(
    () =>
      api.resilience({
        tier: filter.tier || undefined,
        account: filter.account || undefined,
        verdict: (VERDICTS as readonly string[]).includes(filter.verdict) ? (filter.verdict as (typeof VERDICTS)[number]) : undefined,
      }),
    [key],
  );
  // The filters offer what the unfiltered estate holds; a filtered answer would narrow its own choices.
  const all = useLoad(() => api.resilience({}), []);
  const tiers = [...new Set((all.data?.resources ?? []).map((r) => r.tier).filter((t): t is string => !!t))].sort();
  const accounts = [...new Set((all.data?.resources ?? []).map((r) => r.account))].sort();
  const set = (changes: Partial<typeof filter>) => setRouteQuery({ ...filter, ...changes });
  const counts = new Map<string, number>();
  for (const r of data?.resources ?? []) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);

  return (
    <>
      <h1>Resilience</h1>
      <p className="muted">
        Each resource held to its tier of the resilience policy{data?.policy ? ` (${data.policy})` : ''}: recovery points AWS reports now, and the newest run
        that proved a restore, a failover or a point-in-time drill.
      </p>
      <form className="filters" aria-label="Filter resources" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect id="res-tier" label="Tier" value={filter.tier} options={[...tiers, 'untiered']} onChange={(v) => set({ tier: v })} />
        <FilterSelect id="res-account" label="Account" value={filter.account} options={accounts} onChange={(v) => set({ account: v })} />
        <FilterSelect id="res-verdict" label="Verdict" value={filter.verdict} options={[...VERDICTS]} onChange={(v) => set({ verdict: v })} />
      </form>
      <ErrorNotice error={error} />
      {loading && !data && <Skeleton lines={6} label="Loading the resilience posture" />}
      {data && (
        <p role="status" className="summary">
          {data.resources.length} resource(s):{' '}
          {VERDICTS.filter((v) => counts.get(v))
            .map((v) => `${counts.get(v)} ${v}`)
            .join(', ') || 'none'}{' '}
          · computed <Time at={data.generatedAt} /> · audit head <span className="mono">{String(data.auditHead.hash ?? 'empty').slice(0, 16)}</span>
          {data.auditHead.digest ? ` (digest ${data.auditHead.digest.number})` : ''}
        </p>
      )}
      <div className="table-wrap">
        <table className="resilience stack">
          <caption className="sr-only">Resources, worst verdict first</caption>
          <thead>
            <tr>
              <th scope="col">Resource</th>
              <th scope="col">Account / region</th>
              <th scope="col">Tier</th>
              <th scope="col">Verdict</th>
              <th scope="col">Objectives</th>
            </tr>
          </thead>
          <tbody>
            {data?.resources.map((r) => (
              <ResourceRow key={r.arn} r={r} />
            ))}
            {data && data.resources.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No resources match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

function ResourceRow({ r }: { r: ResilienceResource }) {
  return (
    <tr data-resource={r.arn}>
      <td data-label="Resource">
        <span className="mono">{r.id}</span> <span className="tag">{r.type}</span>
      </td>
      <td data-label="Account / region">
        {r.account} / {r.region}
      </td>
      <td data-label="Tier" title={r.tierSource}>
        {r.tier ?? <span className="muted">untiered</span>}
      </td>
      <td data-label="Verdict">
        <span className={`badge ${VERDICT_CLASS[r.verdict] ?? ''}`}>{r.verdict}</span>
      </td>
      <td data-label="Objectives">
        {r.objectives.length === 0 ? (
          <span className="muted">{r.tierSource}</span>
        ) : (
          <ul className="objectives">
            {r.objectives.map((o) => (
              <ObjectiveLine key={o.objective} o={o} />
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}

function ObjectiveLine({ o }: { o: ResilienceObjective }) {
  return (
    <li data-objective={o.objective}>
      <span className={`badge ${VERDICT_CLASS[o.verdict] ?? ''}`}>{o.verdict}</span> <strong>{o.objective}</strong>: {measuredText(o)}
      {o.evidenceRunId && (
        <>
          {' '}
          · <a href={`#/runs/${o.evidenceRunId}`}>run {o.evidenceRunId}</a>
          {o.evidenceAt && (
            <>
              {' '}
              (<Time at={o.evidenceAt} />)
            </>
          )}
        </>
      )}
      <div className="help">{o.detail}</div>
    </li>
  );
}

function measuredText(o: ResilienceObjective): string {
  const show = (v: number | boolean | null | undefined) =>
    v === null || v === undefined ? '—' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : o.unit === 's' ? seconds(v) : `${v}${o.unit ? ` ${o.unit}` : ''}`;
  return `${show(o.measured)} (target ${typeof o.target === 'boolean' ? 'on' : o.unit === 's' ? `≤ ${seconds(o.target)}` : `≥ ${o.target} ${o.unit}`})`;
}

function seconds(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} d`;
}
