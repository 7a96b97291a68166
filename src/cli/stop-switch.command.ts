import { Command } from 'commander';
import { CliContext } from './cli-context';
import { CliError } from './cli.error';
import { shortTime } from './cli-output';

/** `stop-all --reason …`, `resume-all` and `stop-state`: the stop button from a terminal (admin keys). */
export function registerStopSwitchCommands(program: Command, ctx: CliContext): void {
  program
    .command('stop-all')
    .description('stop every run at its next safe point (cleanup runs) and refuse new runs until resume-all (admin)')
    .option('--reason <text>', 'why (required; shown to everyone refused, and audited)')
    .action(
      ctx.act(async (out, cmd) => {
        const reason = cmd.opts<{ reason?: string }>().reason?.trim();
        if (!reason) throw new CliError('USAGE', 'stop-all needs --reason "<why>": it is shown to everyone refused and recorded in the audit log');
        const s = await (await ctx.clientFor(cmd)).post('/v1/stop-all', { reason });
        if (out.json) return out.document(s);
        out.line(`everything stopped by ${s.stoppedBy} at ${shortTime(s.stoppedAt)}: ${s.reason}`);
        out.line(`${s.runsStopping.length} run(s) asked to stop; new runs are refused (423 STOPPED) until resume-all`);
      }),
    );

  program
    .command('resume-all')
    .description('lift stop-all: new runs are accepted again (admin)')
    .option('--reason <text>', 'why it is safe again (audited)')
    .action(
      ctx.act(async (out, cmd) => {
        const reason = cmd.opts<{ reason?: string }>().reason?.trim();
        const s = await (await ctx.clientFor(cmd)).post('/v1/resume-all', reason ? { reason } : undefined);
        if (out.json) return out.document(s);
        out.line(`resumed by ${s.resumedBy} at ${shortTime(s.resumedAt)}: new runs are accepted`);
      }),
    );

  program
    .command('stop-state')
    .description('whether stop-all holds, who stopped everything and why')
    .action(
      ctx.act(async (out, cmd) => {
        const s = await (await ctx.clientFor(cmd)).get('/v1/stop-all');
        if (out.json) return out.document(s);
        out.line(
          s.stopped
            ? `STOPPED by ${s.stoppedBy} at ${shortTime(s.stoppedAt)}: ${s.reason}`
            : `running${s.resumedAt ? ` (last resumed by ${s.resumedBy} at ${shortTime(s.resumedAt)})` : ''}`,
        );
      }),
    );
}
