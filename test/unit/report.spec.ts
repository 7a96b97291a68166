import { escapeHtml, html, htmlPage } from '../../src/reports/html-page';
import { renderHtml } from '../../src/reports/report-html.renderer';
import { renderMarkdown } from '../../src/reports/report-markdown.renderer';
import type { ReportRunInput, ReportStepInput } from '../../src/reports/report.types';
import { buildRunReport } from '../../src/reports/run-report.builder';
import { timelineSvg } from '../../src/reports/svg-charts';

const NOW = new Date('2025-03-04T10:05:00.000Z');

function run(overrides: Partial<ReportRunInput> = {}): ReportRunInput {
  return {
    id: 'run_01HQFAILOVER',
    runbookId: 'aurora-failover-test',
    runbookTitle: 'Aurora failover drill',
    state: 'succeeded',
    outcome: 'succeeded',
    dryRun: false,
    reason: 'Monthly DR drill',
    trigger: { kind: 'schedule', actor: 'schedule:monthly-dr' },
    parameters: { cluster: 'orders', targetSeconds: 30 },
    error: null,
    createdAt: '2025-03-04T10:00:00.000Z',
    startedAt: '2025-03-04T10:00:01.000Z',
    endedAt: '2025-03-04T10:00:12.250Z',
    ...overrides,
  };
}

function step(overrides: Partial<ReportStepInput> & Pick<ReportStepInput, 'stepId' | 'position'>): ReportStepInput {
  return {
    uses: 'core.noop',
    phase: 'main',
    mutates: false,
    state: 'succeeded',
    attempts: 1,
    startedAt: '2025-03-04T10:00:01.000Z',
    endedAt: '2025-03-04T10:00:02.000Z',
    output: {},
    error: null,
    note: null,
    ...overrides,
  };
}

const failoverSteps: ReportStepInput[] = [
  // Given out of order on purpose: the report orders by phase, then position.
  step({
    stepId: 'verify',
    name: 'Verify the new writer',
    position: 2,
    uses: 'rds.verify-failover',
    startedAt: '2025-03-04T10:00:09.500Z',
    endedAt: '2025-03-04T10:00:12.000Z',
    summary: 'writer moved orders-1 → orders-2 in 4.213 s',
    output: {
      findings: [
        { id: 'writer-changed', title: 'Writer moved to another instance', passed: true, measured: 'orders-1 → orders-2' },
        { id: 'switch-time', title: 'Writer switch within target', passed: true, measured: 4.213, target: 30, unit: 's' },
      ],
      figures: [
        { id: 'old-writer', label: 'Old writer', value: 'orders-1' },
        { id: 'new-writer', label: 'New writer', value: 'orders-2' },
        { id: 'switch-seconds', label: 'Switch time', value: 4.213, unit: 's' },
        { id: 'target', label: 'Target', value: 30, unit: 's' },
      ],
    },
  }),
  step({
    stepId: 'writer-before',
    name: 'Find the current writer',
    position: 0,
    uses: 'rds.describe-cluster-writer',
    startedAt: '2025-03-04T10:00:01.000Z',
    endedAt: '2025-03-04T10:00:01.420Z',
    summary: 'writer is orders-1',
    output: { writer: 'orders-1' },
  }),
  step({
    stepId: 'failover',
    position: 1,
    uses: 'rds.failover-db-cluster',
    mutates: true,
    startedAt: '2025-03-04T10:00:01.500Z',
    endedAt: '2025-03-04T10:00:09.400Z',
    attempts: 3,
    summary: 'failover requested to orders-2',
    output: { requested: true },
  }),
];

describe('run report', () => {
  describe('a succeeded failover drill', () => {
    const report = buildRunReport(run(), failoverSteps, NOW);

    it('records the run, its figures and its passing findings', () => {
      expect(report).toMatchObject({
        schemaVersion: 1,
        final: true,
        run: {
          id: 'run_01HQFAILOVER',
          runbook: 'aurora-failover-test',
          title: 'Aurora failover drill',
          state: 'succeeded',
          actor: 'schedule:monthly-dr',
          acceptedAt: '2025-03-04T10:00:00.000Z',
          durationSeconds: 11.25,
          error: null,
        },
        generatedAt: '2025-03-04T10:05:00.000Z',
        cleanup: { ran: 0, failed: [] },
        plannedCalls: [],
      });
      expect(report.figures.map((f) => [f.label, f.value, f.unit])).toEqual([
        ['Old writer', 'orders-1', undefined],
        ['New writer', 'orders-2', undefined],
        ['Switch time', 4.213, 's'],
        ['Target', 30, 's'],
      ]);
      expect(report.findings).toEqual([
        expect.objectContaining({ id: 'writer-changed', passed: true, stepId: 'verify' }),
        expect.objectContaining({ id: 'switch-time', passed: true, measured: 4.213, target: 30, unit: 's', stepId: 'verify' }),
      ]);
    });

    it('orders the timeline by position and measures each step to the millisecond', () => {
      expect(report.timeline.map((s) => [s.stepId, s.durationSeconds])).toEqual([
        ['writer-before', 0.42],
        ['failover', 7.9],
        ['verify', 2.5],
      ]);
      expect(report.timeline[1]).toMatchObject({ name: 'failover', mutates: true, attempts: 3, summary: 'failover requested to orders-2' });
    });

    it('survives a JSON round trip unchanged (it is stored in runs.report)', () => {
      expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    });

    it('reads as a drill result in Markdown', () => {
      const md = renderMarkdown(report);
      expect(md).toContain('# Aurora failover drill');
      expect(md).toContain('✅ **Succeeded**');
      expect(md).not.toContain('DRY RUN');
      expect(md).toContain('| Old writer | orders-1 |');
      expect(md).toContain('| New writer | orders-2 |');
      expect(md).toContain('| Switch time | 4.213 s |');
      expect(md).toContain('| Target | 30 s |');
      expect(md).toContain('## Findings — all 2 passed');
      expect(md).toContain('| ✅ pass | Writer switch within target | 4.213 s | 30 s | verify |');
      expect(md).toContain('| ✅ pass | Writer moved to another instance | orders-1 → orders-2 | — | verify |');
      expect(md).toMatch(
        /\| 2 \| failover \| rds\.failover-db-cluster ✎ \| main \| ✅ succeeded \| \+0\.5 s \| 7\.9 s \| 3 \| failover requested to orders-2 \|/,
      );
      expect(md).toContain('**Duration:** 11.25 s');
      expect(md).not.toContain('## Cleanup');
      expect(md).not.toContain('## Error');
    });

    it('reads as a drill result in HTML, with a bar per step', () => {
      const page = renderHtml(report);
      expect(page).toMatch(/^<!doctype html>/);
      expect(page).toContain('<title>Aurora failover drill</title>');
      expect(page).toContain('✅ Succeeded');
      expect(page).toContain('<div class="card-label">Switch time</div><div class="card-value">4.213 s</div>');
      expect(page).toContain('<div class="card-label">New writer</div><div class="card-value">orders-2</div>');
      expect(page).toContain('Findings — all 2 passed');
      expect(page.match(/<rect class="bar succeeded/g)).toHaveLength(3);
      // Self-contained: no scripts, no external stylesheets, images or fonts.
      expect(page).not.toMatch(/<script|<link|src=|@import|url\(/i);
    });
  });

  describe('a dry run', () => {
    const steps: ReportStepInput[] = [
      step({ stepId: 'writer-before', position: 0, uses: 'rds.describe-cluster-writer', output: { writer: 'orders-1' } }),
      step({
        stepId: 'failover',
        position: 1,
        uses: 'rds.failover-db-cluster',
        mutates: true,
        state: 'planned',
        output: {
          plannedCalls: [
            {
              service: 'rds',
              operation: 'FailoverDBCluster',
              input: { DBClusterIdentifier: 'orders', TargetDBInstanceIdentifier: 'orders-2' },
              region: 'eu-west-1',
            },
          ],
        },
      }),
      step({
        stepId: 'restore',
        position: 2,
        uses: 'rds.restore-db-cluster-from-snapshot',
        mutates: true,
        state: 'planned',
        output: {
          plannedCalls: [
            {
              service: 'rds',
              operation: 'RestoreDBClusterFromSnapshot',
              input: { DBClusterIdentifier: 'drill-run-1', SnapshotIdentifier: 'snap-1', MasterUserPassword: 'hunter2' },
            },
          ],
        },
      }),
    ];
    const report = buildRunReport(run({ dryRun: true }), steps, NOW);

    it('lists the calls it would have made, with secrets in their inputs redacted', () => {
      expect(report.plannedCalls).toEqual([
        {
          service: 'rds',
          operation: 'FailoverDBCluster',
          input: { DBClusterIdentifier: 'orders', TargetDBInstanceIdentifier: 'orders-2' },
          region: 'eu-west-1',
          stepId: 'failover',
        },
        {
          service: 'rds',
          operation: 'RestoreDBClusterFromSnapshot',
          input: { DBClusterIdentifier: 'drill-run-1', SnapshotIdentifier: 'snap-1', MasterUserPassword: '[REDACTED]' },
          stepId: 'restore',
        },
      ]);
    });

    it('says DRY RUN and shows each planned operation with its JSON input', () => {
      const md = renderMarkdown(report);
      expect(md).toContain('✅ **Succeeded** · **DRY RUN**');
      expect(md).toContain('> **DRY RUN** — nothing was changed.');
      expect(md).toContain('### 1. rds:FailoverDBCluster');
      expect(md).toContain('Step `failover` · region `eu-west-1`');
      expect(md).toContain('```json\n{\n  "DBClusterIdentifier": "orders",\n  "TargetDBInstanceIdentifier": "orders-2"\n}\n```');
      expect(md).toContain('### 2. rds:RestoreDBClusterFromSnapshot');
      expect(md).not.toContain('hunter2');
      expect(md).toContain('| 2 | failover | rds.failover-db-cluster ✎ | main | 📝 planned |');

      const page = renderHtml(report);
      expect(page).toContain('DRY RUN — nothing was changed.');
      expect(page).toContain('<h3>1. rds:FailoverDBCluster</h3>');
      expect(page).toContain('&quot;TargetDBInstanceIdentifier&quot;: &quot;orders-2&quot;');
      expect(page).not.toContain('hunter2');
    });

    it('says so when nothing would have changed', () => {
      const md = renderMarkdown(buildRunReport(run({ dryRun: true }), [steps[0]], NOW));
      expect(md).toContain('## Planned calls\n\nNo step planned a call that changes state.');
    });
  });

  describe('a failed restore drill whose cleanup partly failed', () => {
    const steps: ReportStepInput[] = [
      step({
        stepId: 'restore',
        position: 0,
        uses: 'rds.restore-db-cluster-from-snapshot',
        mutates: true,
        startedAt: '2025-03-04T10:00:01.000Z',
        endedAt: '2025-03-04T10:21:31.000Z',
        attempts: 44,
        summary: 'restored drill-run-1 from snap-1',
      }),
      step({
        stepId: 'verify-rows',
        position: 1,
        uses: 'rds.verify-row-count',
        state: 'failed',
        startedAt: '2025-03-04T10:21:31.000Z',
        endedAt: '2025-03-04T10:21:33.000Z',
        output: null,
        error: { code: 'VERIFICATION_FAILED', message: 'orders has 0 rows, expected at least 1000', details: { table: 'orders', rows: 0 } },
      }),
      step({
        stepId: 'report',
        position: 2,
        uses: 'report.summary',
        state: 'skipped',
        startedAt: '2025-03-04T10:21:33.000Z',
        endedAt: '2025-03-04T10:21:33.000Z',
        output: null,
      }),
      step({
        stepId: 'delete-cluster',
        phase: 'cleanup',
        position: 0,
        uses: 'rds.delete-db-cluster',
        mutates: true,
        startedAt: '2025-03-04T10:21:34.000Z',
        endedAt: '2025-03-04T10:24:00.000Z',
      }),
      step({
        stepId: 'delete-parameter-group',
        phase: 'cleanup',
        position: 1,
        uses: 'rds.delete-db-cluster-parameter-group',
        mutates: true,
        state: 'failed',
        startedAt: '2025-03-04T10:24:00.000Z',
        endedAt: '2025-03-04T10:24:01.000Z',
        output: null,
        error: { code: 'AWS_INVALID_STATE', message: 'parameter group is in use' },
      }),
    ];
    const report = buildRunReport(
      run({
        runbookId: 'restore-drill',
        runbookTitle: 'Point-in-time restore drill',
        state: 'failed',
        outcome: 'failed',
        endedAt: '2025-03-04T10:24:01.000Z',
        error: { code: 'STEP_FAILED', message: 'step verify-rows failed: orders has 0 rows, expected at least 1000' },
      }),
      steps,
      NOW,
    );

    it('counts the cleanup that ran and names the step that failed', () => {
      expect(report.final).toBe(true);
      expect(report.cleanup).toEqual({ ran: 2, failed: ['delete-parameter-group'] });
      expect(report.timeline.map((s) => `${s.phase}:${s.stepId}`)).toEqual([
        'main:restore',
        'main:verify-rows',
        'main:report',
        'cleanup:delete-cluster',
        'cleanup:delete-parameter-group',
      ]);
      expect(report.timeline[1].error).toEqual({
        code: 'VERIFICATION_FAILED',
        message: 'orders has 0 rows, expected at least 1000',
        details: { table: 'orders', rows: 0 },
      });
    });

    it('shows the failure, the failed step and the cleanup in Markdown', () => {
      const md = renderMarkdown(report);
      expect(md).toContain('❌ **Failed**');
      expect(md).toContain('| 2 | verify-rows | rds.verify-row-count | main | ❌ failed |');
      expect(md).toContain('VERIFICATION_FAILED: orders has 0 rows, expected at least 1000');
      expect(md).toContain('| 1 | restore | rds.restore-db-cluster-from-snapshot ✎ | main | ✅ succeeded | +0 s | 21 min 30 s | 44 |');
      expect(md).toContain('## Cleanup\n\n2 of 2 cleanup steps ran; 1 failed: `delete-parameter-group`.');
      expect(md).toContain('## Error\n\n**STEP_FAILED** — step verify-rows failed: orders has 0 rows, expected at least 1000');
    });

    it('shows the failure and the cleanup in HTML', () => {
      const page = renderHtml(report);
      expect(page).toContain('❌ Failed');
      expect(page).toContain('2 of 2 cleanup steps ran;');
      expect(page).toContain('<code>delete-parameter-group</code>');
      expect(page).toContain('VERIFICATION_FAILED: orders has 0 rows, expected at least 1000');
      expect(page).toContain('<rect class="bar failed phase-cleanup"');
    });

    it('words aborted and cancelled runs', () => {
      expect(renderMarkdown(buildRunReport(run({ state: 'aborted', outcome: 'aborted' }), steps, NOW))).toContain('⚠️ **Aborted**');
      expect(renderMarkdown(buildRunReport(run({ state: 'cancelled', outcome: 'cancelled' }), steps, NOW))).toContain('⏹ **Cancelled**');
    });
  });

  describe('a run in progress', () => {
    const steps: ReportStepInput[] = [
      step({ stepId: 'snapshot', position: 0, uses: 'rds.find-latest-snapshot', output: { snapshotId: 'snap-1' } }),
      step({
        stepId: 'restore',
        position: 1,
        uses: 'rds.restore-db-cluster-from-snapshot',
        mutates: true,
        state: 'waiting',
        attempts: 7,
        startedAt: '2025-03-04T10:00:02.000Z',
        endedAt: null,
        output: null,
        note: 'cluster drill-run-1 is creating',
      }),
      // Stored output from some older step version: wrong shapes must not break the report.
      step({
        stepId: 'odd',
        position: 2,
        state: 'running',
        startedAt: new Date('2025-03-04T10:04:00.000Z'),
        endedAt: null,
        output: { findings: 'none', figures: [null, 3, { label: 'no id' }], plannedCalls: {} },
      }),
    ];
    const input = run({ state: 'waiting', outcome: null, endedAt: null });

    it('builds a partial report without throwing', () => {
      const report = buildRunReport(input, steps, NOW);
      expect(report.final).toBe(false);
      expect(report.run).toMatchObject({ state: 'waiting', endedAt: null, durationSeconds: null });
      expect(report.timeline[1]).toMatchObject({ state: 'waiting', endedAt: null, durationSeconds: null, note: 'cluster drill-run-1 is creating' });
      expect(report.timeline[2].startedAt).toBe('2025-03-04T10:04:00.000Z');
      expect(report.figures).toEqual([]);
      expect(report.findings).toEqual([]);
      expect(report.plannedCalls).toEqual([]);
    });

    it('says it is in progress and partial', () => {
      const report = buildRunReport(input, steps, NOW);
      const md = renderMarkdown(report);
      expect(md).toContain('⏳ **In progress** (waiting)');
      expect(md).toContain('this report is partial');
      expect(md).toContain('| ⏳ waiting | +1 s | — | 7 | cluster drill-run-1 is creating |');

      const page = renderHtml(report);
      expect(page).toContain('⏳ In progress (waiting)');
      expect(page).toContain('this report is partial');
      // The open bar of the waiting step runs up to the report's time.
      expect(page).toContain('<rect class="bar waiting phase-main open"');
    });

    it('says when cleanup is running after a failure', () => {
      const md = renderMarkdown(buildRunReport(run({ state: 'running', outcome: 'failed', endedAt: null }), steps, NOW));
      expect(md).toContain('⏳ **In progress** (running; cleaning up after the run failed)');
    });

    it('handles a run with no steps yet', () => {
      const report = buildRunReport(run({ state: 'queued', outcome: null, startedAt: null, endedAt: null }), [], NOW);
      expect(report.timeline).toEqual([]);
      expect(renderMarkdown(report)).toContain('No step has started yet.');
      expect(renderHtml(report)).toContain('No step has started yet.');
    });
  });

  describe('HTML escaping', () => {
    const hostile = '<script>alert(1)</script>';
    const report = buildRunReport(
      run({
        runbookTitle: 'Drill <b>bold</b>',
        reason: `"quoted" & ${hostile}`,
        parameters: { cluster: hostile, apiToken: 'tok-123' },
        state: 'failed',
        outcome: 'failed',
        error: { code: 'STEP_FAILED', message: hostile },
      }),
      [
        step({
          stepId: 'x"><script>alert(2)</script>',
          name: `<img src=x onerror=alert(3)>`,
          position: 0,
          state: 'failed',
          output: { findings: [{ id: 'f', title: hostile, passed: false, measured: hostile }], figures: [{ id: 'g', label: hostile, value: hostile }] },
          error: { code: 'AWS_ERROR', message: '<img src=x onerror=alert(4)>' },
        }),
      ],
      NOW,
    );
    const page = renderHtml(report);

    it('shows recorded values as text, never as markup', () => {
      expect(page).not.toMatch(/<script/i);
      expect(page).not.toMatch(/<img/i);
      expect(page).not.toContain('<b>bold</b>');
      expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page).toContain('&quot;cluster&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
      expect(page).toContain('AWS_ERROR: &lt;img src=x onerror=alert(4)&gt;');
      expect(page).toContain('<title>Drill &lt;b&gt;bold&lt;/b&gt;</title>');
      expect(page).toContain('&quot;quoted&quot; &amp; &lt;script&gt;');
      // Inside the SVG too (labels and tooltips).
      expect(page).toContain('&lt;img src=x onerror=alert(3)&gt;');
    });

    it('redacts secret-looking parameters even if the caller missed them', () => {
      expect(report.run.parameters).toEqual({ cluster: hostile, apiToken: '[REDACTED]' });
      expect(page).not.toContain('tok-123');
    });

    it('forbids scripts on the page itself', () => {
      expect(page).toContain(`Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    });

    it('escapes every character that matters in text and attributes', () => {
      expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
      expect(escapeHtml(null)).toBe('');
      expect(html`<p title="${'"><x>'}">${['<a>', html`<b>${'<c>'}</b>`]}</p>`.toString()).toBe('<p title="&quot;&gt;&lt;x&gt;">&lt;a&gt;<b>&lt;c&gt;</b></p>');
    });

    it('escapes the page shell and the chart for any report built on them', () => {
      const shell = htmlPage({
        title: '<x-title>',
        subtitle: '<x-sub>',
        notices: [{ tone: 'warn', text: '<x-notice>' }],
        sections: [{ id: 'a"b', title: '<x-heading>', body: html`${'<x-body>'}` }],
        footer: '<x-footer>',
      });
      expect(shell).not.toMatch(/<x-/);
      expect(shell).toContain('&lt;x-body&gt;');
      expect(shell).toContain('id="a&quot;b"');
      const svg = timelineSvg([
        { stepId: '<i>', name: '<n>', phase: 'main', state: 'succeeded', startedAt: '2025-03-04T10:00:00Z', endedAt: '2025-03-04T10:00:01Z' },
      ]).toString();
      expect(svg).toMatch(/^<svg /);
      expect(svg).not.toMatch(/<(i|n)>/);
    });
  });

  describe('Markdown table escaping', () => {
    const report = buildRunReport(
      run(),
      [
        step({
          stepId: 'check',
          position: 0,
          summary: 'line one\nline two | with pipe',
          output: {
            findings: [{ id: 'f1', title: 'a | b\nc', passed: false, measured: 'x|y', target: '<10', detail: 'see\\docs' }],
            figures: [{ id: 'g1', label: 'Pipes | here', value: 'v1|v2\r\nv3' }],
          },
        }),
      ],
      NOW,
    );
    const md = renderMarkdown(report);

    /** Cells of a table row, split on pipes that are not escaped. */
    function cells(line: string): string[] {
      return line
        .trim()
        .replace(/^\|/, '')
        .replace(/\|$/, '')
        .split(/(?<!\\)\|/);
    }

    it('keeps every row to its columns whatever the values hold', () => {
      const figureRow = md.split('\n').find((l) => l.startsWith('| Pipes'))!;
      expect(figureRow).toBe('| Pipes \\| here | v1\\|v2<br>v3 |');
      expect(cells(figureRow)).toHaveLength(2);

      const findingRow = md.split('\n').find((l) => l.startsWith('| ❌ fail'))!;
      expect(findingRow).toBe('| ❌ fail | a \\| b<br>c<br>see\\\\docs | x\\|y | &lt;10 | check |');
      expect(cells(findingRow)).toHaveLength(5);

      const timelineRow = md.split('\n').find((l) => l.startsWith('| 1 | check'))!;
      expect(timelineRow).toContain('line one<br>line two \\| with pipe');
      expect(cells(timelineRow)).toHaveLength(9);
      expect(md).toContain('## Findings — 1 of 1 failed');
    });

    it('cannot be broken out of by a code fence in a value', () => {
      const withFence = buildRunReport(run({ parameters: { sql: '```\n# injected heading\n```' } }), [], NOW);
      const out = renderMarkdown(withFence);
      expect(out).toContain('````json\n');
      expect(out).toContain('\n````\n');
    });
  });
});
