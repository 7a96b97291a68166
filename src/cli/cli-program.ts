import { Command, CommanderError } from 'commander';
import { CliContext, CliIo } from './cli-context';
import { CliError } from './cli.error';
import { EXIT, ExitCode } from './exit-codes';
import { registerApprovalCommands } from './approvals.command';
import { registerAuditCommands } from './audit.command';
import { registerLoginCommand } from './login.command';
import { registerReportCommand } from './report.command';
import { registerRunbookCommands } from './runbooks.command';
import { registerRunCommands } from './runs.command';
import { registerScheduleCommands } from './schedules.command';
import { registerStopSwitchCommands } from './stop-switch.command';
import { registerValidateCommand } from './validate.command';

/**
 * Runs one CLI invocation and returns its exit code (see exit-codes.ts). Every command is a
 * client of the HTTP API except `validate` (offline) and `login` (writes the profile file).
 * Each command group lives in its own `*.command.ts`; this file only assembles them and turns
 * errors into exit codes.
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  const ctx = new CliContext(io);
  const program = new Command('runbookd')
    .description('Start, follow and inspect runbookd runs; approve or reject them; validate runbooks offline.')
    .option('--json', 'print one JSON document (for scripts); messages go to stderr')
    .option('--url <url>', 'runbookd base URL (default: RUNBOOKD_URL, then the profile file)')
    .option('--no-color', 'no colour even on a terminal (NO_COLOR works too)')
    .showHelpAfterError('(runbookd --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  program.addHelpText(
    'after',
    `
Exit codes: 0 succeeded, 1 failed, 2 aborted by a guard, 3 cancelled, 4 approval rejected or expired,
5 still running when --timeout ran out, 64 usage error, 69 service unreachable, 77 not authorised.
Configuration: RUNBOOKD_URL and RUNBOOKD_API_KEY, or the profile written by \`runbookd login\`
(${io.env.profileFile}).`,
  );

  registerLoginCommand(program, ctx);
  registerRunbookCommands(program, ctx);
  registerRunCommands(program, ctx);
  registerReportCommand(program, ctx);
  registerApprovalCommands(program, ctx);
  registerScheduleCommands(program, ctx);
  registerStopSwitchCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerValidateCommand(program, ctx);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors.
      if (err.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    const json = argv.includes('--json');
    if (err instanceof CliError) {
      if (json) io.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } }, null, 2)}\n`);
      io.stderr.write(`runbookd: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`runbookd: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failed;
  }
}
