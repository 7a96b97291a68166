import type { RunRecord } from '../model/run.types';
import type { ApprovalRecord } from '../persistence/approvals.repository';
import type { NotificationMessage } from './notification-message';

interface PlanStep {
  stepId: string;
  uses: string;
  calls: Array<{ service: string; operation: string; region?: string; input?: Record<string, unknown> }> | null;
  note?: string;
}

/**
 * An approval request for the people who can give it: what is asked and why, the plan (each AWS
 * call still to come), who asked, until when, the console link and the CLI commands.
 */
export function approvalRequestMessage(run: RunRecord, a: ApprovalRecord, publicUrl: string): NotificationMessage {
  const consoleUrl = `${publicUrl}/#/runs/${run.id}`;
  const steps = (a.plan as { steps?: PlanStep[] }).steps ?? [];
  const plan = steps.map((s) =>
    s.calls === null
      ? `${s.stepId}: ${s.uses} (${s.note ?? 'calls known later'})`
      : s.calls.length === 0
        ? `${s.stepId}: ${s.note ?? 'nothing to call'}`
        : s.calls.map((c) => `${s.stepId}: ${c.service}:${c.operation}${c.region ? ` in ${c.region}` : ''}${target(c.input)}`).join('\n'),
  );
  const approve = `runbookd approve ${run.id} -m "<comment>"`;
  const reject = `runbookd reject ${run.id} -m "<why>"`;
  const who = [...a.approvers.roles.map((r) => `any ${r}`), ...a.approvers.keys].join(', ') || 'nobody';
  const subject = `⏳ approval needed: ${run.runbookId} run ${run.id}`;
  const lines = [
    `${subject} — requested by ${a.requestedBy}${run.reason ? `: ${run.reason}` : ''}`,
    ...(a.message ? [a.message] : []),
    `Needs ${a.minApprovals} approval(s) from ${who} (not ${a.requestedBy}) before ${a.expiresAt.toISOString()}; otherwise the run ends rejected.`,
    'Plan:',
    ...plan.map((p) => `  ${p}`),
    `Plan hash: ${a.planHash}`,
    `Console: ${consoleUrl}`,
    `Approve: ${approve}`,
    `Reject: ${reject}`,
  ];
  return {
    subject,
    text: lines.join('\n'),
    slack: {
      text: `${lines[0]}\n<${consoleUrl}|Open in the console> · \`${approve}\``,
      attachments: [
        {
          color: '#bf8700',
          title: 'Plan',
          text: plan.join('\n') || '(no AWS calls)',
          footer: `plan ${a.planHash.slice(0, 12)} · expires ${a.expiresAt.toISOString()}`,
        },
      ],
      runbookd: {
        kind: 'approval-request',
        runId: run.id,
        runbookId: run.runbookId,
        approvalId: a.id,
        gate: a.gate,
        requestedBy: a.requestedBy,
        minApprovals: a.minApprovals,
        approvers: a.approvers,
        expiresAt: a.expiresAt.toISOString(),
        message: a.message,
        plan: a.plan,
        planHash: a.planHash,
        consoleUrl,
        commands: { approve, reject },
      },
    },
  };
}

function target(input: Record<string, unknown> | undefined): string {
  if (!input) return '';
  const id = Object.entries(input).find(([k, v]) => /Identifier$|Arn$|^ServiceName$|^Service$/.test(k) && typeof v === 'string');
  return id ? ` ${id[0]}=${String(id[1])}` : '';
}
