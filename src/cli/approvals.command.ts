import { Command, Option } from 'commander';
import { CliContext } from './cli-context';
import { shortTime } from './cli-output';

/** `approvals`, `approve <run>` and `reject <run>`. */
export function registerApprovalCommands(program: Command, ctx: CliContext): void {
  program
    .command('approvals')
    .description('approvals waiting for a decision')
    .addOption(new Option('--state <state>', 'which approvals').choices(['pending', 'approved', 'rejected', 'expired', 'void']).default('pending'))
    .action(
      ctx.act(async (out, cmd) => {
        const body = await (await ctx.clientFor(cmd)).get(`/v1/approvals?state=${cmd.opts<{ state: string }>().state}`);
        if (out.json) return out.document(body);
        out.table(
          ['run', 'runbook', 'gate', 'requested by', 'approvals', 'expires', 'plan'],
          body.items.map((a: any) => [
            a.runId,
            a.runbookId,
            a.gate,
            a.requestedBy,
            `${a.approvals?.length ?? 0}/${a.minApprovals}`,
            shortTime(a.expiresAt),
            planLine(a),
          ]),
        );
        for (const a of body.items) out.line(out.dim(`  approve: runbookd approve ${a.runId} -m "…"   reject: runbookd reject ${a.runId} -m "…"`));
      }),
    );

  for (const decision of ['approve', 'reject'] as const) {
    const message =
      decision === 'reject'
        ? new Option('-m, --message <comment>', 'why (recorded in the audit log)').makeOptionMandatory()
        : new Option('-m, --message <comment>', 'a comment (recorded in the audit log)');
    program
      .command(`${decision} <run>`)
      .description(
        decision === 'approve'
          ? "approve the run's pending approval (not your own run)"
          : "reject the run's pending approval: the run ends rejected, cleanup runs",
      )
      .addOption(message)
      .action(
        ctx.act(async (out, cmd, runId: string) => {
          const client = await ctx.clientFor(cmd);
          const m = cmd.opts<{ message?: string }>().message;
          // Bind the decision to the plan this person could see: if it changed since, the API refuses.
          const planHash = (await client.get(`/v1/runs/${encodeURIComponent(runId)}/approval`)).planHash as string | undefined;
          const r = await client.post(`/v1/runs/${encodeURIComponent(runId)}/${decision}`, { ...(m ? { comment: m } : {}), ...(planHash ? { planHash } : {}) });
          if (out.json) return out.document(r);
          out.line(`${decision === 'approve' ? 'approved' : 'rejected'} run ${runId}: approval now ${r.state} (${r.approvals?.length ?? 0}/${r.minApprovals})`);
        }),
      );
  }
}

/** An approval in one line, for `show`. */
export function describeApproval(a: any): string {
  const expires = a.expiresAt ? `, expires ${shortTime(a.expiresAt)}` : '';
  const plan = a.planHash ? `, plan ${String(a.planHash).slice(0, 12)}` : '';
  return `${a.state}${a.reason && a.reason !== a.state ? ` (${a.reason})` : ''}, ${a.approvals?.length ?? 0}/${a.minApprovals} approvals${expires}${plan}`;
}

/** The plan in one cell: each AWS call still to come, or the step whose calls are known only later. */
function planLine(a: any): string {
  const steps = (a.plan?.steps ?? []) as Array<{ stepId: string; uses: string; calls: Array<{ service: string; operation: string }> | null }>;
  const parts = steps.flatMap((s) => (s.calls === null ? [`${s.stepId}: ${s.uses} (later)`] : s.calls.map((c) => `${c.service}:${c.operation}`)));
  return parts.length ? parts.join(', ') : '-';
}
