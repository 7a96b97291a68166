import type { RunRecord } from '../model/run.types';
import { formatValue } from '../reports/report-format';
import type { RunReport } from '../reports/report.types';

const ICON: Record<string, string> = { succeeded: '✅', failed: '❌', aborted: '🛑', cancelled: '⏹️' };
const COLOUR: Record<string, string> = { succeeded: '#1a7f37', failed: '#cf222e', aborted: '#bf8700', cancelled: '#57606a' };

export interface NotificationMessage {
  subject: string;
  /** Slack-compatible body (text + attachments), with runbookd's own fields for other receivers. */
  slack: Record<string, unknown>;
  /** Plain text for SNS subscribers (e-mail, SMS, chat bridges). */
  text: string;
}

/** What a person on call needs from a run's end: outcome, key figures, findings, the report link. */
export function notificationMessage(run: RunRecord, publicUrl: string): NotificationMessage {
  const report = run.report as unknown as RunReport | null;
  const reportUrl = `${publicUrl}/v1/runs/${run.id}/report?format=html`;
  const figures = (report?.figures ?? []).slice(0, 10).map((f) => ({ label: f.label, value: formatValue(f.value, f.unit) }));
  const findings = report?.findings ?? [];
  const failed = findings.filter((f) => !f.passed);
  const objectives = report?.drill?.objectives ?? [];
  const subject = `${ICON[run.state] ?? ''} ${run.runbookId} ${run.state}${run.dryRun ? ' (dry run)' : ''}`.trim();
  const summary = [
    `${subject} — run ${run.id}`,
    run.error ? `${run.error.code}: ${run.error.message}` : null,
    findings.length
      ? `Checks: ${findings.length - failed.length} passed, ${failed.length} failed${failed.length ? ` (${failed.map((f) => f.id).join(', ')})` : ''}`
      : null,
    objectives.length ? `DR objectives: ${objectives.filter((o) => o.status === 'pass').length} of ${objectives.length} met` : null,
  ].filter((x): x is string => x !== null);
  const text = [...summary, ...figures.map((f) => `${f.label}: ${f.value}`), `Report: ${reportUrl}`].join('\n');
  return {
    subject,
    text,
    slack: {
      text: `${summary.join('\n')}\n<${reportUrl}|Report>`,
      attachments: [
        {
          color: COLOUR[run.state] ?? '#57606a',
          fields: figures.map((f) => ({ title: f.label, value: f.value, short: true })),
        },
      ],
      runbookd: {
        runId: run.id,
        runbookId: run.runbookId,
        state: run.state,
        dryRun: run.dryRun,
        error: run.error,
        figures,
        findings: { passed: findings.length - failed.length, failed: failed.map((f) => f.id) },
        ...(objectives.length ? { objectives: objectives.map((o) => ({ id: o.id, status: o.status, measured: o.measured, target: o.target })) } : {}),
        reportUrl,
      },
    },
  };
}
