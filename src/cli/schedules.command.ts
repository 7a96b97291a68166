import { Command } from 'commander';
import { CliContext } from './cli-context';
import { shortTime } from './cli-output';

/** `schedules`, `pause <schedule>` and `resume <schedule>`. */
export function registerScheduleCommands(program: Command, ctx: CliContext): void {
  program
    .command('schedules')
    .description('schedule triggers and their next ticks')
    .action(
      ctx.act(async (out, cmd) => {
        const body = await (await ctx.clientFor(cmd)).get('/v1/schedules');
        if (out.json) return out.document(body);
        out.table(
          ['schedule', 'cron', 'timezone', 'paused', 'next', 'last tick'],
          body.items.map((s: any) => [s.id, s.cron ?? s.pattern, s.timezone, s.paused ? 'yes' : 'no', shortTime(s.nextFireAt), shortTime(s.lastTickAt)]),
        );
      }),
    );

  for (const verb of ['pause', 'resume'] as const) {
    program
      .command(`${verb} <schedule>`)
      .description(verb === 'pause' ? "stop a schedule's ticks (those in the pause are not caught up)" : 'restart a paused schedule')
      .action(
        ctx.act(async (out, cmd, id: string) => {
          const s = await (await ctx.clientFor(cmd)).post(`/v1/schedules/${encodeURIComponent(id)}/${verb}`);
          if (out.json) return out.document(s);
          out.line(`schedule ${s.id ?? id} ${s.paused ? 'paused' : 'running'}${s.nextFireAt ? `; next tick ${shortTime(s.nextFireAt)}` : ''}`);
        }),
      );
  }
}
