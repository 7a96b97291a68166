import type { RunRecord } from '../../src/model/run.types';
import { notificationMessage } from '../../src/notifications/notification-message';
import { describeWebhook } from '../../src/notifications/webhook.adapter';
import { type ChildEvidence, evaluateObjectives, trendEntry } from '../../src/reports/drill-evidence';
import { drillHtmlSections, drillMarkdown } from '../../src/reports/drill-evidence.renderer';
import { renderHtml } from '../../src/reports/report-html.renderer';
import { renderMarkdown } from '../../src/reports/report-markdown.renderer';
import { buildRunReport } from '../../src/reports/run-report.builder';

const TARGETS = { rpoTargetMinutes: 60, rtoTargetMinutes: 240, maxSwitchSeconds: 60, retentionDays: 30 };
const report = (findings: any[], cleanupFailed: string[] = []) => ({ findings, figures: [], cleanup: { ran: 1, failed: cleanupFailed } });
const f = (id: string, passed: boolean, measured: unknown, unit?: string, target?: unknown) => ({ id, title: id, passed, measured, unit, target, stepId: 's' });

const children: ChildEvidence[] = [
  {
    runId: 'r-backup',
    runbookId: 'backup-verification',
    state: 'succeeded',
    report: report([
      f('newest-backup-age', true, 42, 'min', 60),
      f('backup-retention', true, 35, 'days', 30),
      f('backup-encrypted', true, 'KMS key k1', undefined, 'encrypted'),
      f('dr-copy-age', true, 3660, 's', 60),
      f('rto', true, 20, 'min', 240),
    ]),
  },
  { runId: 'r-pitr', runbookId: 'point-in-time-restore', state: 'succeeded', report: report([f('rto', true, 2.5, 'h', 240)]) },
  { runId: 'r-fail', runbookId: 'failover-test', state: 'failed', report: report([f('switch-time', false, 75, 's', 60)], ['tidy']) },
];

describe('drill objectives', () => {
  it("holds each measured value to the drill's target, in the objective's unit, naming where it came from", () => {
    const objectives = evaluateObjectives(children, TARGETS);
    const byId = Object.fromEntries(objectives.map((o) => [o.id, o]));
    expect(objectives.map((o) => [o.id, o.status])).toEqual([
      ['rpo-newest-backup-age', 'pass'],
      ['rpo-cross-region-copy-age', 'fail'],
      ['rto-restore-to-available', 'pass'],
      ['failover-switch-time', 'fail'],
      ['retention', 'pass'],
      ['encryption', 'pass'],
      ['cleanup-complete', 'fail'],
    ]);
    // Recorded in seconds, held to a target in minutes: 3660 s is 61 min, over the 60 min target
    // (the drill's own verdict, whatever the child concluded).
    expect(byId['rpo-cross-region-copy-age'].measured).toBe(61);
    // The point-in-time restore's RTO is preferred to backup-verification's, and hours become minutes.
    expect(byId['rto-restore-to-available']).toMatchObject({ measured: 150, unit: 'min', source: { runId: 'r-pitr', findingId: 'rto' } });
    expect(byId['failover-switch-time']).toMatchObject({ measured: 75, target: 60, comparison: '<=' });
    expect(byId['retention']).toMatchObject({ measured: 35, comparison: '>=' });
    expect(byId['cleanup-complete'].measured).toBe('failed: failover-test/tidy');
  });

  it('says "not measured" when the child that measures an objective did not run or recorded nothing', () => {
    const objectives = evaluateObjectives([children[0]], { ...TARGETS, rpoTargetMinutes: 30 });
    const byId = Object.fromEntries(objectives.map((o) => [o.id, o]));
    expect(byId['rpo-newest-backup-age'].status).toBe('fail');
    expect(byId['failover-switch-time']).toMatchObject({
      status: 'not-measured',
      measured: null,
      source: null,
      detail: 'the child run that measures it did not run',
    });
    // backup-verification's own restore stands in for the RTO when no point-in-time restore ran.
    expect(byId['rto-restore-to-available']).toMatchObject({ status: 'pass', source: { runId: 'r-backup' } });
    expect(evaluateObjectives([], TARGETS).every((o) => o.status === 'not-measured')).toBe(true);
  });

  it('renders the objectives and the trend in Markdown and HTML, recorded text escaped', () => {
    const hostile = [
      {
        ...children[0],
        report: report([f('newest-backup-age', true, 1, 'min'), { ...f('backup-encrypted', true, '<script>x</script>|pipe'), detail: '<b>' }]) as any,
      },
    ];
    const objectives = evaluateObjectives(hostile, TARGETS);
    const older = trendEntry('r-old', '2026-10-01T03:00:00.000Z', 'failed', evaluateObjectives(children, TARGETS));
    const drill = { objectives, trend: [older, trendEntry('r-now', '2026-11-01T03:00:00.000Z', 'succeeded', objectives)] };
    const run = {
      id: 'r-now',
      runbookId: 'monthly-dr-drill',
      runbookTitle: 'Monthly DR drill',
      state: 'succeeded' as const,
      outcome: 'succeeded' as const,
      dryRun: false,
      reason: null,
      trigger: { kind: 'schedule', actor: 'schedule:monthly-dr-drill.monthly' },
      parameters: {},
      error: null,
      createdAt: '2026-11-01T03:00:00.000Z',
      startedAt: '2026-11-01T03:00:00.100Z',
      endedAt: '2026-11-01T04:00:00.000Z',
    };
    const built = buildRunReport(
      run,
      [
        {
          stepId: 'objectives',
          uses: 'drill.evaluate-objectives',
          phase: 'cleanup',
          position: 0,
          mutates: false,
          state: 'succeeded',
          attempts: 1,
          startedAt: run.endedAt,
          endedAt: run.endedAt,
          output: { drill },
          error: null,
          note: null,
        },
      ],
      new Date(run.endedAt),
    );
    expect(built.drill?.trend.map((t) => t.runId)).toEqual(['r-old', 'r-now']);

    const md = renderMarkdown(built);
    expect(md).toContain('## DR objectives');
    expect(md).toContain('## Trend (last 2 drills)');
    expect(md).not.toContain('<script>');
    expect(md).toMatch(/\| ✅ pass \| RPO: age of the newest backup \| 1 min \| ≤ 60 min \|/);
    const page = renderHtml(built);
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;');
    expect(page).toMatch(/<svg[^>]*class="chart line-chart"/);
    expect(drillHtmlSections(drill).map((s) => s.id)).toEqual(['objectives', 'trend']);
    expect(drillMarkdown({ objectives, trend: [] }, (t) => t)).toHaveLength(2);
  });
});

describe('notification message', () => {
  const run = {
    id: 'r1',
    runbookId: 'monthly-dr-drill',
    state: 'failed',
    dryRun: false,
    error: { code: 'FINDINGS_FAILED', message: 'check(s) failed: switch-time' },
    report: {
      figures: [{ id: 'switch-seconds', label: 'Switch time', value: 75, unit: 's', stepId: 'x' }],
      findings: [
        { id: 'switch-time', passed: false },
        { id: 'rto', passed: true },
      ],
      drill: {
        objectives: [
          { id: 'rto', status: 'pass', measured: 3, target: 240 },
          { id: 'failover-switch-time', status: 'fail', measured: 75, target: 60 },
        ],
        trend: [],
      },
    },
  } as unknown as RunRecord;

  it('carries outcome, key figures, failed checks, objectives and the report link, Slack-compatible', () => {
    const m = notificationMessage(run, 'https://runbookd.example.com');
    expect(m.subject).toBe('❌ monthly-dr-drill failed');
    expect(m.text).toContain('FINDINGS_FAILED: check(s) failed: switch-time');
    expect(m.text).toContain('Checks: 1 passed, 1 failed (switch-time)');
    expect(m.text).toContain('DR objectives: 1 of 2 met');
    expect(m.text).toContain('Switch time: 75 s');
    expect(m.text).toContain('Report: https://runbookd.example.com/v1/runs/r1/report?format=html');
    expect(m.slack).toMatchObject({ attachments: [{ color: '#cf222e', fields: [{ title: 'Switch time', value: '75 s', short: true }] }] });
    expect(String(m.slack.text)).toContain('<https://runbookd.example.com/v1/runs/r1/report?format=html|Report>');
  });

  it('records a webhook by its origin only (its path is its credential)', () => {
    expect(describeWebhook('https://hooks.slack.com/services/T000/B000/XXXXsecret')).toBe('https://hooks.slack.com/…');
  });
});
