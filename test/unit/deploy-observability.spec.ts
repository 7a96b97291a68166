import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { MetricsService } from '../../src/observability/metrics.service';

/*
 * deploy/prometheus/alerts.yaml and deploy/grafana/runbookd.json may only name metrics (and
 * labels) runbookd exports: a renamed metric would leave an alert that can never fire and a panel
 * that stays empty, with nothing saying so. The exported names come from MetricsService itself,
 * rendered once with one sample per series. Where promtool is installed (Debian's `prometheus`
 * package), the rule file also passes `promtool check rules`.
 */
const root = path.resolve(__dirname, '..', '..');
const PROMQL_WORDS = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'and',
  'avg',
  'avg_over_time',
  'bool',
  'by',
  'ceil',
  'clamp_max',
  'clamp_min',
  'count',
  'count_over_time',
  'delta',
  'deriv',
  'floor',
  'group_left',
  'group_right',
  'histogram_quantile',
  'idelta',
  'ignoring',
  'increase',
  'irate',
  'label_replace',
  'max',
  'max_over_time',
  'min',
  'min_over_time',
  'offset',
  'on',
  'or',
  'quantile',
  'rate',
  'resets',
  'round',
  'sort',
  'sort_desc',
  'sum',
  'sum_over_time',
  'time',
  'topk',
  'bottomk',
  'unless',
  'vector',
  'without',
]);

/** Every exported metric with the labels its samples carry. */
async function exportedMetrics(): Promise<Map<string, Set<string>>> {
  const stub = <T>(v: T) => v as never;
  const svc = new MetricsService(
    stub({ stats: async () => ({ byState: [{ runbookId: 'failover-test', state: 'running', count: 1 }], oldestActiveSeconds: 5, deadLettered: 0 }) }),
    stub({ jobCounts: async () => ({ waiting: 1 }) }),
    stub({ head: async () => ({ seq: 3 }), countQuarantined: async () => 0 }),
    stub({ pendingStats: async () => ({ pending: 1, oldestSeconds: 2 }) }),
    stub({ lastSweep: async () => [{ type: 'rds:db', state: 'found', count: 1 }] }),
    stub({ latest: () => ({ resources: [{ tier: 'critical', objectives: [{ objective: 'rpo', verdict: 'met' }] }] }) }),
  );
  const text = await svc.render();
  const metrics = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^# TYPE (\S+) \S+$/gm)) metrics.set(m[1], new Set());
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/gm)) {
    for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) metrics.get(m[1])?.add(l[1]);
  }
  return metrics;
}

/** Metric names and the label names matched on each, read from one PromQL expression. */
function namesIn(expr: string): { metrics: string[]; labels: Array<{ metric: string; label: string }> } {
  const labels: Array<{ metric: string; label: string }> = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.push({ metric: m[1], label: l[1] });
  }
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  // A name followed by `(` is a function; the rest that is no PromQL word is a metric.
  const metrics = [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => m[2] === undefined && !PROMQL_WORDS.has(m[1]))
    .map((m) => m[1]);
  return { metrics, labels };
}

function checkExpression(where: string, expr: string, exported: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const { metrics, labels } = namesIn(expr);
  if (metrics.length === 0) problems.push(`${where}: names no metric: ${expr}`);
  for (const m of metrics) if (!exported.has(m)) problems.push(`${where}: ${m} is not a metric runbookd exports`);
  for (const { metric, label } of labels) {
    if (exported.has(metric) && !exported.get(metric)!.has(label)) problems.push(`${where}: ${metric} has no label ${label}`);
  }
  return problems;
}

describe('deploy/: the Prometheus alert rules and the Grafana dashboard', () => {
  let exported: Map<string, Set<string>>;
  beforeAll(async () => {
    exported = await exportedMetrics();
  });

  it('the checker itself catches a renamed metric, an unknown label and an expression without a metric', () => {
    expect(exported.get('runbookd_queue_jobs')).toEqual(new Set(['state']));
    expect(checkExpression('t', 'max(runbookd_queue_job{state="waiting"}) > 1', exported)).toEqual(['t: runbookd_queue_job is not a metric runbookd exports']);
    expect(checkExpression('t', 'max(runbookd_queue_jobs{queue="x"})', exported)).toEqual(['t: runbookd_queue_jobs has no label queue']);
    expect(checkExpression('t', 'vector(1) > 0', exported)).toEqual(['t: names no metric: vector(1) > 0']);
    expect(checkExpression('t', 'max by (state) (delta(runbookd_runs{state=~"failed|aborted"}[1h])) >= 3', exported)).toEqual([]);
  });

  it('every alert rule is well formed and names only exported metrics and labels', () => {
    const doc = parse(fs.readFileSync(path.join(root, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
      groups: Array<{
        name: string;
        rules: Array<{ alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }>;
      }>;
    };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(8);
    const problems: string[] = [];
    const names = new Set<string>();
    for (const r of rules) {
      if (names.has(r.alert)) problems.push(`${r.alert}: defined twice`);
      names.add(r.alert);
      if (!/^Runbookd[A-Za-z]+$/.test(r.alert)) problems.push(`${r.alert}: alert names start with Runbookd`);
      if (!['page', 'ticket'].includes(r.labels?.severity)) problems.push(`${r.alert}: severity must be page or ticket`);
      if (!r.annotations?.summary) problems.push(`${r.alert}: no summary`);
      if (r.for !== undefined && !/^\d+[smh]$/.test(r.for)) problems.push(`${r.alert}: for "${r.for}" is not a duration`);
      problems.push(...checkExpression(r.alert, String(r.expr), exported));
    }
    expect(problems).toEqual([]);
    // The alerts a platform team asks for first.
    for (const a of ['RunbookdMetricsAbsent', 'RunbookdQueueDown', 'RunbookdRunStuck', 'RunbookdRunDeadLettered', 'RunbookdApprovalWaiting'])
      expect(names).toContain(a);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  (promtool ? it : it.skip)("promtool check rules accepts the rule file (promtool from Debian's prometheus package)", () => {
    const r = spawnSync('promtool', ['check', 'rules', path.join(root, 'deploy', 'prometheus', 'alerts.yaml')], { encoding: 'utf8' });
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
  });

  it('every dashboard panel queries exported metrics, and the dashboard covers runs, queue, approvals and audit', () => {
    const dash = JSON.parse(fs.readFileSync(path.join(root, 'deploy', 'grafana', 'runbookd.json'), 'utf8')) as {
      uid: string;
      panels: Array<{ type: string; title: string; id: number; targets?: Array<{ expr: string; datasource: { uid: string } }> }>;
    };
    expect(dash.uid).toBe('runbookd');
    const problems: string[] = [];
    const queried = new Set<string>();
    const ids = new Set<number>();
    for (const p of dash.panels) {
      if (ids.has(p.id)) problems.push(`panel id ${p.id} twice`);
      ids.add(p.id);
      if (p.type === 'row') continue;
      if (!p.targets || p.targets.length === 0) problems.push(`${p.title}: no query`);
      for (const t of p.targets ?? []) {
        if (t.datasource.uid !== '${datasource}') problems.push(`${p.title}: its query does not use the dashboard's datasource variable`);
        problems.push(...checkExpression(p.title, t.expr, exported));
        for (const m of namesIn(t.expr).metrics) queried.add(m);
      }
    }
    expect(problems).toEqual([]);
    for (const m of ['runbookd_runs', 'runbookd_queue_jobs', 'runbookd_approvals_pending', 'runbookd_audit_records', 'runbookd_active_runs'])
      expect(queried).toContain(m);
  });
});
