import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { CliContext } from './cli-context';
import { CliError } from './cli.error';
import { EXIT } from './exit-codes';

/** `validate <dir>`: the one offline command. */
export function registerValidateCommand(program: Command, ctx: CliContext): void {
  program
    .command('validate <dir>')
    .description('check a folder of runbooks offline with the service\'s own loader and schema; prints file:path: reason per problem')
    .action(ctx.act(async (out, _cmd, dir: string) => {
      if (!(await stat(dir).then((st) => st.isDirectory(), () => false))) throw new CliError('USAGE', `${dir} is not a folder of runbooks`);
      // Loaded only here: the step catalog pulls in every AWS SDK client, which the API commands never need.
      const { formatProblem, validateRunbooks } = await import('./runbook-validation');
      const result = validateRunbooks(dir);
      if (out.json) out.document(result);
      else if (result.problems.length === 0) out.line(`${dir}: ${result.runbooks.length} runbook(s) valid: ${result.runbooks.join(', ')}`);
      else for (const p of result.problems) out.line(formatProblem(p));
      return result.problems.length === 0 ? EXIT.ok : EXIT.failed;
    }));
}
