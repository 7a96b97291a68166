import type { FleetSection, FleetTargetRow, TargetOutcome } from '../model/fleet.types';
import { badge, dataTable, figureCards, html, keyValueList, type PageSection } from './html-page';
import { mdText, type Tone } from './report-format';

/**
 * A fleet run's part of the report: one table of every target, worst first, with its outcome
 * and its child's key figures, and the summary line. The same rows are the CSV download.
 */

/** The section from a stored step output; undefined unless it has the shape the fleet step writes. */
export function readFleetSection(value: unknown): FleetSection | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Partial<FleetSection>;
  const ok = typeof v.runbookId === 'string' && typeof v.summary === 'string' && Array.isArray(v.targets) && v.counts !== undefined && v.limits !== undefined;
  return ok ? (value as FleetSection) : undefined;
}

const TONE: Record<TargetOutcome, Tone> = {
  succeeded: 'ok',
  failed: 'bad',
  refused: 'bad',
  aborted: 'bad',
  rejected: 'warn',
  cancelled: 'warn',
  skipped: 'info',
};

function figuresText(r: FleetTargetRow): string {
  const parts = r.figures
    .slice(0, 4)
    .map((f) => `${f.label}: ${typeof f.value === 'object' ? JSON.stringify(f.value) : String(f.value)}${f.unit ? ` ${f.unit}` : ''}`);
  if (r.plannedCalls !== null) parts.push(`${r.plannedCalls} planned change(s)`);
  return parts.join('; ');
}

function errorText(r: FleetTargetRow): string {
  return r.error ? `${r.error.code}: ${r.error.message}` : '';
}

const duration = (s: number | null) => (s === null ? '' : `${Math.round(s * 10) / 10} s`);

export function fleetMarkdownBlocks(f: FleetSection): string[] {
  const line = (cells: string[]) => `| ${cells.map((c) => (c === '' ? ' ' : mdText(c))).join(' | ')} |`;
  const head = ['#', 'Target', 'Account', 'Region', 'Outcome', 'Duration', 'Key figures', 'Error', 'Child run'];
  return [
    '## Fleet',
    [
      `- **Summary:** ${mdText(f.summary)} of ${f.counts.total} target(s)${f.dryRun ? ' (dry run: each child only planned)' : ''}`,
      `- **Rate control:** maxConcurrency ${f.limits.maxConcurrency}, maxErrors ${f.limits.maxErrors}${f.limits.maxConcurrencyPerAccountRegion !== null ? `, maxConcurrencyPerAccountRegion ${f.limits.maxConcurrencyPerAccountRegion}` : ''}`,
      ...(f.stopped ? ['- **Stopped:** more targets failed than maxErrors allows; the rest were skipped'] : []),
    ].join('\n'),
    '### Targets — worst first',
    [
      line(head),
      `|${head.map(() => '---').join('|')}|`,
      ...f.targets.map((r) =>
        line([
          String(r.index + 1),
          `${r.id} (${r.arn})`,
          r.account,
          r.region,
          r.outcome,
          duration(r.durationSeconds),
          figuresText(r),
          errorText(r),
          r.childRunId ?? '',
        ]),
      ),
    ].join('\n'),
  ];
}

export function fleetHtmlSections(f: FleetSection): PageSection[] {
  return [
    {
      id: 'fleet',
      title: 'Fleet — every target, worst first',
      body: html`${figureCards([
        { label: 'Targets', value: String(f.counts.total) },
        { label: 'Passed', value: String(f.counts.passed) },
        { label: 'Failed', value: String(f.counts.failed) },
        { label: 'Skipped', value: String(f.counts.skipped) },
      ])}${keyValueList([
        ['Summary', f.summary],
        ['Rate control', `maxConcurrency ${f.limits.maxConcurrency}, maxErrors ${f.limits.maxErrors}`],
        ...(f.stopped ? [['Stopped', 'more targets failed than maxErrors allows; the rest were skipped'] as const] : []),
      ])}${dataTable(
        ['#', 'Target', 'Account', 'Region', 'Outcome', 'Duration', 'Key figures', 'Error', 'Child run'],
        f.targets.map((r) => [
          String(r.index + 1),
          html`<code>${r.id}</code>`,
          r.account,
          r.region,
          badge(TONE[r.outcome], r.outcome),
          duration(r.durationSeconds),
          figuresText(r),
          errorText(r),
          r.childRunId ? html`<code>${r.childRunId}</code>` : '',
        ]),
      )}`,
    },
  ];
}

const CSV_HEAD = ['index', 'arn', 'id', 'account', 'region', 'outcome', 'duration_seconds', 'error_code', 'error_message', 'child_run_id', 'figures'];

/** RFC 4180: fields with a comma, quote or line break are quoted; a leading =, +, - or @ is defused for spreadsheets. */
function csvField(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function fleetCsv(f: FleetSection): string {
  const rows = f.targets.map((r) => [
    r.index + 1,
    r.arn,
    r.id,
    r.account,
    r.region,
    r.outcome,
    r.durationSeconds,
    r.error?.code,
    r.error?.message,
    r.childRunId,
    JSON.stringify(Object.fromEntries(r.figures.map((x) => [x.id, x.value]))),
  ]);
  return [CSV_HEAD, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}
