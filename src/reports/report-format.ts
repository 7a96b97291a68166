import type { RunReport, StepState } from './report.types';

/**
 * Wording and number formats shared by every renderer, so the Markdown and HTML of one report
 * say the same thing in the same words.
 */
export type Tone = 'ok' | 'bad' | 'warn' | 'info' | 'progress';

export interface StatusLabel {
  tone: Tone;
  icon: string;
  label: string;
  /** Extra words for a run in progress (what it is doing now). */
  detail?: string;
}

export function runStatus(report: Pick<RunReport, 'final' | 'run'>): StatusLabel {
  const { state, outcome } = report.run;
  switch (state) {
    case 'succeeded':
      return { tone: 'ok', icon: '✅', label: 'Succeeded' };
    case 'failed':
      return { tone: 'bad', icon: '❌', label: 'Failed' };
    case 'aborted':
      return { tone: 'warn', icon: '⚠️', label: 'Aborted' };
    case 'cancelled':
      return { tone: 'info', icon: '⏹', label: 'Cancelled' };
    default: {
      // The main phase may already have ended (outcome set) while cleanup is still running.
      const detail = outcome && outcome !== 'succeeded' ? `${state}; cleaning up after the run ${outcome}` : state;
      return { tone: 'progress', icon: '⏳', label: 'In progress', detail };
    }
  }
}

const STEP_ICONS: Record<StepState, string> = {
  succeeded: '✅',
  failed: '❌',
  skipped: '⏭',
  planned: '📝',
  running: '▶️',
  waiting: '⏳',
};

export function stepStatus(state: StepState): string {
  return `${STEP_ICONS[state] ?? '•'} ${state}`;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toFixed(3)));
}

export function formatValue(value: unknown, unit?: string): string {
  if (value === null || value === undefined || value === '') return '—';
  let text: string;
  if (typeof value === 'boolean') text = value ? 'yes' : 'no';
  else if (typeof value === 'number') text = formatNumber(value);
  else if (typeof value === 'string') text = value;
  else text = JSON.stringify(value);
  if (!unit) return text;
  return unit === '%' ? `${text}%` : `${text} ${unit}`;
}

/** "4.213 s", "2 min 05 s", "1 h 02 min"; "—" when not known. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const sign = seconds < 0 ? '-' : '';
  const s = Math.abs(seconds);
  if (s < 60) return `${sign}${formatNumber(s)} s`;
  if (s < 3600) {
    const whole = Math.round(s);
    return `${sign}${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  }
  const minutes = Math.round(s / 60);
  return `${sign}${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** "2025-03-04 10:00:03 UTC": ISO text without the parts people do not read. */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

/** When the run's clock started: its start, else its first step's, else its acceptance. */
export function runClockStart(report: Pick<RunReport, 'run' | 'timeline'>): string | null {
  if (report.run.startedAt) return report.run.startedAt;
  const starts = report.timeline
    .map((s) => s.startedAt)
    .filter((s): s is string => !!s)
    .sort();
  return starts[0] ?? report.run.acceptedAt;
}

/** "+12.5 s" after the run's start; "—" when either end is unknown. */
export function formatOffset(at: string | null, origin: string | null): string {
  if (!at || !origin) return '—';
  const ms = Date.parse(at) - Date.parse(origin);
  if (!Number.isFinite(ms)) return '—';
  return `+${formatDuration(Math.max(0, Math.round(ms) / 1000))}`;
}

export function findingsSummary(findings: RunReport['findings']): string {
  const failed = findings.filter((f) => !f.passed).length;
  if (findings.length === 0) return 'none recorded';
  if (failed === 0) return findings.length === 1 ? '1 passed' : `all ${findings.length} passed`;
  return `${failed} of ${findings.length} failed`;
}

export function triggerLabel(trigger: RunReport['run']['trigger']): string {
  return `${trigger.kind} by ${trigger.actor}`;
}

/** Stable, readable JSON for parameters, inputs and error details. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value ?? null, null, 2);
}

/**
 * Text outside code: backslashes and pipes escaped (a pipe ends a table cell), angle brackets as
 * entities (no HTML reaches a renderer), newlines as `<br>` (a newline ends a table row).
 */
export function mdText(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r\n|\r|\n/g, '<br>');
}
