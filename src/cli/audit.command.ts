import { Command } from 'commander';
import { CliContext } from './cli-context';
import { EXIT } from './exit-codes';

/** `audit verify`: the hash chain, checked by the service. */
export function registerAuditCommands(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('the audit log')
    .command('verify')
    .description('check the whole hash chain; exit 1 if it is broken')
    .action(ctx.act(async (out, cmd) => {
      const v = await (await ctx.clientFor(cmd)).get('/v1/audit/verify');
      if (out.json) out.document(v);
      else out.line(v.ok ? `audit chain intact: ${v.records} records, head ${v.headHash}` : out.red(`audit chain BROKEN at record ${JSON.stringify(v.firstBadRecord)}`));
      return v.ok ? EXIT.ok : EXIT.failed;
    }));
}
