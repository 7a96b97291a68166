import { renderHtml } from '../../src/reports/report-html.renderer';
import { renderMarkdown } from '../../src/reports/report-markdown.renderer';
import type { ReportRunInput, ReportStepInput, RunReport } from '../../src/reports/report.types';
import { buildRunReport } from '../../src/reports/run-report.builder';

/** The report's "Resources created" section: built from steps' `resources` outputs only. */
const NOW = new Date('2026-11-22T12:10:00.000Z');
const run: ReportRunInput = {
  id: 'r0abc',
  runbookId: 'backup-verification',
  runbookTitle: 'Backup verification',
  state: 'failed',
  outcome: 'succeeded',
  dryRun: false,
  reason: null,
  trigger: { kind: 'rest', actor: 'otto' },
  parameters: {},
  error: null,
  createdAt: '2026-11-22T12:00:00.000Z',
  startedAt: '2026-11-22T12:00:01.000Z',
  endedAt: '2026-11-22T12:09:00.000Z',
};
const step = (stepId: string, position: number, output: Record<string, unknown> | null, over: Partial<ReportStepInput> = {}): ReportStepInput => ({
  stepId,
  position,
  uses: 'x.y',
  phase: 'main',
  mutates: false,
  state: 'succeeded',
  attempts: 1,
  startedAt: '2026-11-22T12:00:02.000Z',
  endedAt: '2026-11-22T12:00:03.000Z',
  output,
  error: null,
  note: null,
  ...over,
});

describe('report: resources created and their final state', () => {
  const steps = [
    // Out of order on purpose: resources merge in step order (phase, then position).
    step(
      'delete-copy',
      0,
      { resources: [{ type: 'rds:db-instance', identifier: 'rbd-r0abc', region: 'eu-west-1', state: 'delete-failed' }] },
      { phase: 'cleanup' },
    ),
    step('restore', 1, {
      resources: [
        { type: 'rds:db-instance', identifier: 'rbd-r0abc', region: 'eu-west-1', state: 'creating', createdByStepId: 'restore' },
        { type: 'rds:db-instance', identifier: '<img src=x>', region: 'eu-west-1', state: 'creating', createdByStepId: 'restore' },
      ],
    }),
    step('available', 2, {
      resources: [
        { type: 'rds:db-instance', identifier: 'rbd-r0abc', region: 'eu-west-1', arn: 'arn:aws:rds:eu-west-1:1:db:rbd-r0abc', state: 'available' },
        'junk',
        { identifier: 'no-type' },
      ],
    }),
    step('other', 3, null),
  ];

  it('keeps the creating step, the last recorded state and the ARN, and ignores entries without the shape', () => {
    const report = buildRunReport(run, steps, NOW);
    expect(report.resources).toEqual([
      {
        type: 'rds:db-instance',
        identifier: 'rbd-r0abc',
        region: 'eu-west-1',
        arn: 'arn:aws:rds:eu-west-1:1:db:rbd-r0abc',
        state: 'delete-failed',
        createdByStepId: 'restore',
        stateStepId: 'delete-copy',
      },
      { type: 'rds:db-instance', identifier: '<img src=x>', region: 'eu-west-1', state: 'creating', createdByStepId: 'restore', stateStepId: 'restore' },
    ]);
  });

  it('renders the section in Markdown and HTML, escaping recorded values; a report without resources has none', () => {
    const report = buildRunReport(run, steps, NOW);
    const md = renderMarkdown(report);
    expect(md).toContain('## Resources created');
    expect(md).toContain('| rbd-r0abc<br>arn:aws:rds:eu-west-1:1:db:rbd-r0abc | rds:db-instance | eu-west-1 | delete-failed | restore | delete-copy |');
    expect(md).not.toContain('<img');
    const page = renderHtml(report);
    expect(page).toContain('Resources created');
    expect(page).toContain('<code>rbd-r0abc</code>');
    expect(page).not.toContain('<img src=x>');

    // Reports stored before resources were recorded have no `resources` field at all.
    const { resources: _dropped, ...old } = buildRunReport(run, [step('a', 0, {})], NOW);
    expect(renderMarkdown(old as RunReport)).not.toContain('Resources created');
    expect(renderHtml(old as RunReport)).not.toContain('Resources created');
  });
});
