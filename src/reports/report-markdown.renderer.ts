import { capacityMarkdownBlocks } from './capacity-section';
import { fleetMarkdownBlocks } from './fleet-section';
import {
  findingsSummary,
  formatDuration,
  formatOffset,
  formatTimestamp,
  formatValue,
  mdText,
  prettyJson,
  runClockStart,
  runStatus,
  stepStatus,
  triggerLabel,
} from './report-format';
import type { ReportError, RunReport } from './report.types';
import { drillMarkdown } from './drill-evidence.renderer';

/**
 * A run report as Markdown, for pasting into a ticket or a chat and for reading in a terminal.
 * Recorded values (titles, messages, step output) are data: they are escaped so that they can
 * neither break a table nor inject HTML into a viewer that renders Markdown.
 */
export function renderMarkdown(report: RunReport): string {
  const blocks: string[] = [
    `# ${mdText(report.run.title)}`,
    statusLine(report),
    ...dryRunBanner(report),
    detailList(report),
    ...figuresBlock(report),
    ...findingsBlock(report),
    ...(report.drill ? drillMarkdown(report.drill, mdText) : []),
    ...(report.capacity ? capacityMarkdownBlocks(report.capacity) : []),
    ...(report.fleet ? fleetMarkdownBlocks(report.fleet) : []),
    ...plannedCallsBlock(report),
    ...timelineBlock(report),
    ...resourcesBlock(report),
    ...cleanupBlock(report),
    ...errorBlock('Error', report.run.error),
    ...parametersBlock(report),
    footer(report),
  ];
  return `${blocks.join('\n\n')}\n`;
}

function statusLine(report: RunReport): string {
  const status = runStatus(report);
  const parts = [`${status.icon} **${status.label}**${status.detail ? ` (${mdText(status.detail)})` : ''}`];
  if (report.run.dryRun) parts.push('**DRY RUN**');
  parts.push(`run ${code(report.run.id)}`);
  parts.push(`runbook ${code(report.run.runbook)}`);
  if (report.run.durationSeconds !== null) parts.push(formatDuration(report.run.durationSeconds));
  return parts.join(' · ');
}

function dryRunBanner(report: RunReport): string[] {
  if (!report.run.dryRun) return [];
  const n = report.plannedCalls.length;
  return [
    `> **DRY RUN** — nothing was changed. ${n === 0 ? 'No step planned a call that changes state.' : `${n} call${n === 1 ? '' : 's'} that would change state ${n === 1 ? 'is' : 'are'} listed under “Planned calls”.`}`,
  ];
}

function detailList(report: RunReport): string {
  const { run } = report;
  const items: Array<[string, string]> = [
    ['Triggered', mdText(triggerLabel(run.trigger))],
    ['Reason', run.reason ? mdText(run.reason) : '—'],
    ['Accepted', formatTimestamp(run.acceptedAt)],
    ['Started', formatTimestamp(run.startedAt)],
    ['Ended', formatTimestamp(run.endedAt)],
    ['Duration', formatDuration(run.durationSeconds)],
  ];
  return items.map(([k, v]) => `- **${k}:** ${v}`).join('\n');
}

function figuresBlock(report: RunReport): string[] {
  if (report.figures.length === 0) return [];
  return [
    '## Key figures',
    table(
      ['Figure', 'Value'],
      report.figures.map((f) => [f.label, formatValue(f.value, f.unit)]),
    ),
  ];
}

function findingsBlock(report: RunReport): string[] {
  if (report.findings.length === 0) return [];
  return [
    `## Findings — ${findingsSummary(report.findings)}`,
    table(
      ['Result', 'Finding', 'Measured', 'Target', 'Step'],
      report.findings.map((f) => [
        f.passed ? '✅ pass' : '❌ fail',
        f.detail ? `${f.title}\n${f.detail}` : f.title,
        formatValue(f.measured, f.unit),
        formatValue(f.target, f.target === null || f.target === undefined ? undefined : f.unit),
        f.stepId,
      ]),
    ),
  ];
}

function plannedCallsBlock(report: RunReport): string[] {
  if (report.plannedCalls.length === 0) {
    return report.run.dryRun ? ['## Planned calls', 'No step planned a call that changes state.'] : [];
  }
  const blocks = ['## Planned calls'];
  if (report.run.dryRun) blocks.push('These calls were **not** made: the run was a dry run.');
  report.plannedCalls.forEach((call, i) => {
    blocks.push(`### ${i + 1}. ${mdText(call.service)}:${mdText(call.operation)}`);
    blocks.push(`Step ${code(call.stepId)}${call.region ? ` · region ${code(call.region)}` : ''}`);
    blocks.push(fenced(prettyJson(call.input), 'json'));
  });
  return blocks;
}

function timelineBlock(report: RunReport): string[] {
  if (report.timeline.length === 0) return ['## Timeline', 'No step has started yet.'];
  const origin = runClockStart(report);
  return [
    '## Timeline',
    table(
      ['#', 'Step', 'Uses', 'Phase', 'State', 'Start', 'Duration', 'Attempts', 'Summary'],
      report.timeline.map((s, i) => [
        String(i + 1),
        s.name === s.stepId ? s.stepId : `${s.name} (${s.stepId})`,
        s.mutates ? `${s.uses} ✎` : s.uses,
        s.phase,
        stepStatus(s.state),
        formatOffset(s.startedAt, origin),
        formatDuration(s.durationSeconds),
        String(s.attempts),
        [s.summary ?? s.note ?? '', s.error ? `${s.error.code}: ${s.error.message}` : ''].filter(Boolean).join('\n'),
      ]),
    ),
    '✎ changes state in AWS.',
  ];
}

function resourcesBlock(report: RunReport): string[] {
  const resources = report.resources ?? [];
  if (resources.length === 0) return [];
  return [
    '## Resources created',
    table(
      ['Resource', 'Type', 'Region', 'Final state', 'Created by', 'State from'],
      resources.map((r) => [r.arn ? `${r.identifier}\n${r.arn}` : r.identifier, r.type, r.region ?? '—', r.state, r.createdByStepId ?? '—', r.stateStepId]),
    ),
  ];
}

function cleanupBlock(report: RunReport): string[] {
  const steps = report.timeline.filter((s) => s.phase === 'cleanup');
  if (steps.length === 0) return [];
  const { ran, failed } = report.cleanup;
  let text = `${ran} of ${steps.length} cleanup step${steps.length === 1 ? '' : 's'} ran`;
  text += failed.length === 0 ? '; none failed.' : `; ${failed.length} failed: ${failed.map(code).join(', ')}.`;
  if (failed.length > 0) text += ' Resources this run created may remain; they carry the tag `runbookd:run-id`.';
  return ['## Cleanup', text];
}

function errorBlock(title: string, error: ReportError | null): string[] {
  if (!error) return [];
  const blocks = [`## ${title}`, `**${mdText(error.code)}** — ${mdText(error.message)}`];
  if (error.details && Object.keys(error.details).length > 0) blocks.push(fenced(prettyJson(error.details), 'json'));
  return blocks;
}

function parametersBlock(report: RunReport): string[] {
  if (Object.keys(report.run.parameters).length === 0) return [];
  return ['## Parameters', fenced(prettyJson(report.run.parameters), 'json')];
}

function footer(report: RunReport): string {
  const partial = report.final ? '' : ' The run has not finished: this report is partial.';
  return `_Generated ${formatTimestamp(report.generatedAt)} from the steps the run recorded.${partial}_`;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => (c === '' ? ' ' : mdText(c))).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/** Inline code whose delimiter is longer than any backtick run inside it. */
function code(value: string): string {
  const text = value.replace(/\r\n|\r|\n/g, ' ');
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const ticks = '`'.repeat(longest + 1);
  const pad = longest > 0 || text.startsWith(' ') || text.endsWith(' ') ? ' ' : '';
  return `${ticks}${pad}${text}${pad}${ticks}`;
}

/** A fenced block whose fence is longer than any backtick run inside it, so content cannot close it. */
function fenced(content: string, lang: string): string {
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${content}\n${fence}`;
}
