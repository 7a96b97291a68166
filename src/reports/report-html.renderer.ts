import { capacityHtmlSections } from './capacity-section';
import { fleetHtmlSections } from './fleet-section';
import { badge, codeBlock, dataTable, figureCards, html, htmlPage, keyValueList, paragraph, type PageNotice, type PageSection } from './html-page';
import {
  findingsSummary,
  formatDuration,
  formatOffset,
  formatTimestamp,
  formatValue,
  prettyJson,
  runClockStart,
  runStatus,
  stepStatus,
  triggerLabel,
} from './report-format';
import { drillHtmlSections } from './drill-evidence.renderer';
import type { ReportError, RunReport } from './report.types';
import { chartFigure, timelineSvg } from './svg-charts';

/** A run report as one self-contained HTML page, built on the shared page shell. */
export function renderHtml(report: RunReport): string {
  const status = runStatus(report);
  const notices: PageNotice[] = [];
  if (report.run.dryRun) notices.push({ tone: 'info', text: 'DRY RUN — nothing was changed. Calls that would change state are listed under “Planned calls”.' });
  if (!report.final) notices.push({ tone: 'progress', text: 'The run has not finished: this report is partial.' });

  const sections: PageSection[] = [
    summarySection(report),
    ...figuresSection(report),
    ...findingsSection(report),
    ...(report.drill ? drillHtmlSections(report.drill) : []),
    ...(report.capacity ? capacityHtmlSections(report.capacity) : []),
    ...(report.fleet ? fleetHtmlSections(report.fleet) : []),
    ...plannedCallsSection(report),
    timelineSection(report),
    ...resourcesSection(report),
    ...cleanupSection(report),
    ...errorSection(report.run.error),
    ...parametersSection(report),
  ];

  return htmlPage({
    title: report.run.title,
    subtitle: `${report.run.runbook} · run ${report.run.id} · ${triggerLabel(report.run.trigger)}`,
    status: { tone: status.tone, text: `${status.icon} ${status.label}${status.detail ? ` (${status.detail})` : ''}` },
    notices,
    sections,
    footer: `Generated ${formatTimestamp(report.generatedAt)} by runbookd from the steps the run recorded.`,
  });
}

function summarySection(report: RunReport): PageSection {
  const { run } = report;
  return {
    id: 'summary',
    title: 'Summary',
    body: keyValueList([
      ['Run', html`<code>${run.id}</code>`],
      ['Runbook', html`<code>${run.runbook}</code>`],
      ['Mode', run.dryRun ? 'dry run' : 'live'],
      ['Triggered', triggerLabel(run.trigger)],
      ['Reason', run.reason || '—'],
      ['Accepted', formatTimestamp(run.acceptedAt)],
      ['Started', formatTimestamp(run.startedAt)],
      ['Ended', formatTimestamp(run.endedAt)],
      ['Duration', formatDuration(run.durationSeconds)],
      ['Findings', findingsSummary(report.findings)],
    ]),
  };
}

function figuresSection(report: RunReport): PageSection[] {
  if (report.figures.length === 0) return [];
  return [
    {
      id: 'figures',
      title: 'Key figures',
      body: figureCards(report.figures.map((f) => ({ label: f.label, value: formatValue(f.value, f.unit) }))),
    },
  ];
}

function findingsSection(report: RunReport): PageSection[] {
  if (report.findings.length === 0) return [];
  return [
    {
      id: 'findings',
      title: `Findings — ${findingsSummary(report.findings)}`,
      body: dataTable(
        ['Result', 'Finding', { label: 'Measured', numeric: true }, { label: 'Target', numeric: true }, 'Step'],
        report.findings.map((f) => [
          f.passed ? badge('ok', '✅ pass') : badge('bad', '❌ fail'),
          html`${f.title}${f.detail ? html`<span class="sub">${f.detail}</span>` : ''}`,
          formatValue(f.measured, f.unit),
          formatValue(f.target, f.target === null || f.target === undefined ? undefined : f.unit),
          html`<code>${f.stepId}</code>`,
        ]),
      ),
    },
  ];
}

function plannedCallsSection(report: RunReport): PageSection[] {
  if (report.plannedCalls.length === 0) {
    return report.run.dryRun ? [{ id: 'planned-calls', title: 'Planned calls', body: paragraph('No step planned a call that changes state.', 'muted') }] : [];
  }
  return [
    {
      id: 'planned-calls',
      title: 'Planned calls',
      body: html`${report.run.dryRun ? paragraph(html`These calls were <strong>not</strong> made: the run was a dry run.`) : ''}${report.plannedCalls.map(
        (call, i) => html`<h3>${i + 1}. ${call.service}:${call.operation}</h3>
<p class="muted">Step <code>${call.stepId}</code>${call.region ? html` · region <code>${call.region}</code>` : ''}</p>
${codeBlock(prettyJson(call.input), `${call.operation} input`)}`,
      )}`,
    },
  ];
}

function timelineSection(report: RunReport): PageSection {
  if (report.timeline.length === 0) {
    return { id: 'timeline', title: 'Timeline', body: paragraph('No step has started yet.', 'muted') };
  }
  const origin = runClockStart(report);
  return {
    id: 'timeline',
    title: 'Timeline',
    body: html`${chartFigure(
      timelineSvg(report.timeline, { until: report.run.endedAt ?? report.generatedAt }),
      'Each bar is one step over the run’s wall time; dashed bars are cleanup, faded bars had not finished.',
    )}${dataTable(
      [
        '#',
        'Step',
        'Uses',
        'Phase',
        'State',
        { label: 'Start', numeric: true },
        { label: 'Duration', numeric: true },
        { label: 'Attempts', numeric: true },
        'Summary',
      ],
      report.timeline.map((s, i) => [
        String(i + 1),
        html`${s.name}${s.name !== s.stepId ? html`<span class="sub"><code>${s.stepId}</code></span>` : ''}`,
        html`<code>${s.uses}</code>${s.mutates ? html` <span title="changes state in AWS">✎</span>` : ''}`,
        s.phase,
        stepStatus(s.state),
        formatOffset(s.startedAt, origin),
        formatDuration(s.durationSeconds),
        String(s.attempts),
        html`${s.summary ?? s.note ?? ''}${s.error ? html`<span class="sub">${s.error.code}: ${s.error.message}</span>` : ''}`,
      ]),
    )}<p class="muted">✎ changes state in AWS.</p>`,
  };
}

function resourcesSection(report: RunReport): PageSection[] {
  const resources = report.resources ?? [];
  if (resources.length === 0) return [];
  return [
    {
      id: 'resources',
      title: 'Resources created',
      body: dataTable(
        ['Resource', 'Type', 'Region', 'Final state', 'Created by', 'State from'],
        resources.map((r) => [
          html`<code>${r.identifier}</code>${r.arn ? html`<span class="sub">${r.arn}</span>` : ''}`,
          r.type,
          r.region ?? '—',
          r.state,
          r.createdByStepId ? html`<code>${r.createdByStepId}</code>` : '—',
          html`<code>${r.stateStepId}</code>`,
        ]),
      ),
    },
  ];
}

function cleanupSection(report: RunReport): PageSection[] {
  const steps = report.timeline.filter((s) => s.phase === 'cleanup');
  if (steps.length === 0) return [];
  const { ran, failed } = report.cleanup;
  return [
    {
      id: 'cleanup',
      title: 'Cleanup',
      body: html`<p>${ran} of ${steps.length} cleanup step${steps.length === 1 ? '' : 's'} ran; ${
        failed.length === 0
          ? 'none failed.'
          : html`${badge('bad', `${failed.length} failed`)} ${failed.map((id, i) => html`${i > 0 ? ', ' : ''}<code>${id}</code>`)}. Resources this run created may remain; they carry the tag <code>runbookd:run-id</code>.`
      }</p>`,
    },
  ];
}

function errorSection(error: ReportError | null): PageSection[] {
  if (!error) return [];
  return [
    {
      id: 'error',
      title: 'Error',
      body: html`<p>${badge('bad', error.code)} ${error.message}</p>${
        error.details && Object.keys(error.details).length > 0 ? codeBlock(prettyJson(error.details), 'error details') : ''
      }`,
    },
  ];
}

function parametersSection(report: RunReport): PageSection[] {
  if (Object.keys(report.run.parameters).length === 0) return [];
  return [{ id: 'parameters', title: 'Parameters', body: codeBlock(prettyJson(report.run.parameters), 'parameters') }];
}
