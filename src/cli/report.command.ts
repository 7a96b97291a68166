import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { CliContext } from './cli-context';
import { CliError } from './cli.error';

/** `report <run>`: the run's report, to stdout or a file. */
export function registerReportCommand(program: Command, ctx: CliContext): void {
  program
    .command('report <run>')
    .description("the run's report")
    .addOption(new Option('--format <format>', 'report format').choices(['md', 'html', 'json']).default('md'))
    .option('-o, --output <file>', 'write it to this file instead of stdout')
    .action(
      ctx.act(async (out, cmd, runId: string) => {
        const o = cmd.opts<{ format: string; output?: string }>();
        // --json asks for the JSON report whatever --format says.
        const format = out.json ? 'json' : o.format;
        const res = await (await ctx.clientFor(cmd)).send('GET', `/v1/runs/${encodeURIComponent(runId)}/report?format=${format}`);
        const text = format === 'json' ? `${JSON.stringify(res.body, null, 2)}\n` : res.text;
        if (!o.output) return out.raw(text);
        try {
          await writeFile(o.output, text);
        } catch (err) {
          throw new CliError('FAILED', `cannot write ${o.output}: ${(err as Error).message}`);
        }
        out.line(`wrote the ${format} report of ${runId} to ${o.output}`);
      }),
    );
}
