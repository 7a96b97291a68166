import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../runbooks/duration';
import { ApiClient } from './api-client.adapter';
import { describeApproval } from './approvals.command';
import { CliContext } from './cli-context';
import { CliError } from './cli.error';
import { argsOf, CliOutput, seconds, shortTime } from './cli-output';
import { buildParameters } from './cli-parameters';
import { EXIT, exitCodeForState, ExitCode } from './exit-codes';
import { followRun } from './run-follower';

/** `run`, `follow`, `runs`, `show` and `cancel`: starting runs and watching them. */
export function registerRunCommands(program: Command, ctx: CliContext): void {
  program
    .command('run <runbook>')
    .description('start a run; with --follow, print each step as it starts and ends, then the key figures and findings')
    .option('-p, --param <key=value>', "a parameter (repeatable); typed by the runbook's parameter schema", collect, [])
    .option('--params-file <file>', 'parameters from a JSON file (-p values override it)')
    .option('--dry-run', 'plan the AWS calls, change nothing')
    .option('--reason <text>', 'why (recorded with the run and in the audit log)')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the same run')
    .option('-f, --follow', 'follow the run until it ends; the exit code says how it ended')
    .addOption(new Option('--timeout <duration>', 'with --follow: stop following after this long (e.g. 90s, 10m) and exit 5').argParser(durationMs))
    .option('--target-tag <key=value>', 'a fleet: every resource with this tag (repeatable; keys AND, a key given twice ORs its values)', collect, [])
    .option('--target <arn-or-id>', 'a fleet: this resource (repeatable), instead of --target-tag', collect, [])
    .option('--resource-type <type>', "a fleet: the resource type (rds:db, rds:cluster, ecs:service); default the runbook's first")
    .option('--accounts <list>', 'a fleet: "allowed" (every allowed account) or account ids, comma-separated')
    .option('--regions <list>', 'a fleet: regions, comma-separated')
    .option('--max-concurrency <n|n%>', 'a fleet: targets running at once, a count or a percentage (default 10)')
    .option('--max-errors <n|n%>', 'a fleet: failed targets tolerated before no further target starts (default 0)')
    .option('--max-concurrency-per-account-region <n>', 'a fleet: targets running at once in one account and region')
    .option('--allow-empty', 'a fleet: record an empty fleet instead of refusing targets that resolve to nothing')
    .action(
      ctx.act(async (out, cmd, runbookId: string) => {
        const o = cmd.opts<RunOptions>();
        if (o.timeout !== undefined && !o.follow) throw new CliError('USAGE', '--timeout needs --follow');
        const fleet = fleetBody(o);
        const client = await ctx.clientFor(cmd);
        const rb = await client.get(`/v1/runbooks/${encodeURIComponent(runbookId)}`);
        const parameters = await buildParameters(o.param, o.paramsFile, rb.parameters);
        const run = await client.post(
          `/v1/runbooks/${encodeURIComponent(runbookId)}/runs`,
          { parameters, dryRun: !!o.dryRun, ...(o.reason ? { reason: o.reason } : {}), ...(fleet ?? {}) },
          o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
        );
        if (fleet && !out.json) printTargets(out, run);
        if (!o.follow) {
          if (out.json) return out.document(run);
          out.line(
            `${run.deduplicated ? 'already accepted' : 'accepted'}: run ${out.bold(run.id)} (${run.runbookId}${run.dryRun ? ', dry run' : ''}) ${run.state}`,
          );
          out.line(out.dim(`follow it: runbookd show ${run.id}   report: runbookd report ${run.id}`));
          return;
        }
        out.line(`run ${out.bold(run.id)} accepted (${run.runbookId}${run.dryRun ? ', dry run' : ''})`);
        return finishFollow(client, out, run.id, o.timeout);
      }),
    );

  program
    .command('follow <run>')
    .description('follow a run that is already going; the exit code says how it ended')
    .addOption(new Option('--timeout <duration>', 'stop following after this long and exit 5').argParser(durationMs))
    .action(ctx.act(async (out, cmd, runId: string) => finishFollow(await ctx.clientFor(cmd), out, runId, cmd.opts<{ timeout?: number }>().timeout)));

  program
    .command('runs')
    .description('runs, newest first; --cursor pages on from where the last page ended')
    .option('--runbook <id>', "only this runbook's runs")
    .option('--state <state>', 'only runs in this state')
    .option('--trigger <kind>', 'only runs started this way: rest, cli, alarm, schedule or parent')
    .option('--limit <n>', 'at most this many (1-200)', '20')
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed (nextCursor with --json)')
    .action(
      ctx.act(async (out, cmd) => {
        const o = cmd.opts<{ runbook?: string; state?: string; trigger?: string; limit: string; cursor?: string }>();
        const filters: Record<string, string> = {
          ...(o.runbook ? { runbook: o.runbook } : {}),
          ...(o.state ? { state: o.state } : {}),
          ...(o.trigger ? { trigger: o.trigger } : {}),
        };
        const q = new URLSearchParams({ limit: o.limit, ...filters, ...(o.cursor ? { cursor: o.cursor } : {}) });
        const body = await (await ctx.clientFor(cmd)).get(`/v1/runs?${q.toString()}`);
        if (out.json) return out.document(body);
        out.table(
          ['run', 'runbook', 'state', 'trigger', 'actor', 'accepted', 'ended', 'error'],
          body.items.map((r: any) => [
            r.id,
            r.runbookId,
            out.state(r.state) + (r.dryRun ? ' (dry)' : ''),
            r.trigger?.kind,
            r.actor,
            shortTime(r.createdAt),
            shortTime(r.endedAt),
            r.error?.code,
          ]),
        );
        if (body.nextCursor) out.line(out.dim(`more: runbookd runs ${argsOf({ ...filters, limit: o.limit, cursor: body.nextCursor })}`));
      }),
    );

  program
    .command('show <run>')
    .description('one run: state, parameters, steps')
    .action(
      ctx.act(async (out, cmd, runId: string) => {
        const client = await ctx.clientFor(cmd);
        const r = await client.get(`/v1/runs/${encodeURIComponent(runId)}`);
        if (out.json) return out.document(r);
        out.fields([
          ['run', r.id],
          ['runbook', r.runbookId],
          ['state', out.state(r.state) + (r.dryRun ? ' (dry run)' : '')],
          ['actor', r.actor],
          ['trigger', r.trigger?.kind],
          ['reason', r.reason],
          ['parameters', r.parameters],
          ['accepted', shortTime(r.createdAt)],
          ['ended', shortTime(r.endedAt)],
          ...(r.error ? [['error', `${r.error.code}: ${r.error.message}`] as [string, unknown]] : []),
        ]);
        // Only gated runs have one; a 404 here just means none.
        const approval = await client.get(`/v1/runs/${encodeURIComponent(runId)}/approval`).catch(() => undefined);
        if (approval) out.fields([['approval', describeApproval(approval)]]);
        out.line();
        out.table(
          ['step', 'phase', 'uses', 'state', 'took', 'note'],
          (r.steps ?? []).map((s: any) => [
            s.id,
            s.phase,
            s.uses,
            out.state(s.state),
            seconds(s.durationMs),
            s.error ? `${s.error.code}: ${s.error.message}` : s.note,
          ]),
        );
      }),
    );

  program
    .command('cancel <run>')
    .description('stop a run at its next step boundary or wait; cleanup still runs')
    .action(
      ctx.act(async (out, cmd, runId: string) => {
        const r = await (await ctx.clientFor(cmd)).post(`/v1/runs/${encodeURIComponent(runId)}/cancel`);
        if (out.json) return out.document(r);
        out.line(`cancel requested for run ${r.id} (now ${r.state}); cleanup still runs`);
      }),
    );
}

async function finishFollow(client: ApiClient, out: CliOutput, runId: string, timeoutMs: number | undefined): Promise<ExitCode> {
  const { run, finished } = await followRun(client, runId, out, { timeoutMs });
  if (!finished) {
    if (out.json) out.document({ run, finished: false });
    out.line(`still ${run.state} after the --timeout; the run goes on: runbookd follow ${run.id}`);
    return EXIT.stillRunning;
  }
  const report = await client.get(`/v1/runs/${encodeURIComponent(runId)}/report`);
  if (out.json) out.document({ run, report });
  else printSummary(out, run, report);
  return exitCodeForState(run.state) ?? EXIT.failed;
}

/** The end of a followed run: how it ended, its key figures and its findings. */
function printSummary(out: CliOutput, run: any, report: any): void {
  out.line();
  out.line(`run ${run.id} ${out.state(run.state)}${run.error ? ` — ${run.error.code}: ${run.error.message}` : ''}`);
  const figures = (report.figures ?? []) as Array<{ label: string; value: unknown; unit?: string }>;
  if (figures.length > 0) {
    out.line(out.bold('figures'));
    for (const f of figures) out.line(`  ${f.label}: ${String(f.value)}${f.unit ? ` ${f.unit}` : ''}`);
  }
  const findings = (report.findings ?? []) as Array<{ title: string; passed: boolean; measured?: unknown; target?: unknown; unit?: string }>;
  if (findings.length > 0) {
    out.line(out.bold('findings'));
    for (const f of findings) {
      const unit = f.unit ? ` ${f.unit}` : '';
      const measured =
        f.measured !== undefined && f.measured !== null
          ? ` (${String(f.measured)}${unit}${f.target !== undefined && f.target !== null ? `, target ${String(f.target)}${unit}` : ''})`
          : '';
      out.line(`  ${f.passed ? out.green('✓ pass') : out.red('✗ FAIL')} ${f.title}${measured}`);
    }
  }
  out.line(out.dim(`report: runbookd report ${run.id} --format md|html|json`));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function durationMs(value: string): number {
  const s = /^\d+(\.\d+)?$/.test(value) ? Number(value) : parseDuration(value);
  if (s === undefined || !(s > 0)) throw new InvalidArgumentError('give a duration such as 90s, 10m or 1h');
  return s * 1000;
}

interface RunOptions {
  param: string[];
  paramsFile?: string;
  dryRun?: boolean;
  reason?: string;
  idempotencyKey?: string;
  follow?: boolean;
  timeout?: number;
  targetTag: string[];
  target: string[];
  resourceType?: string;
  accounts?: string;
  regions?: string;
  maxConcurrency?: string;
  maxErrors?: string;
  maxConcurrencyPerAccountRegion?: string;
  allowEmpty?: boolean;
}

const FLEET_ONLY = ['resourceType', 'accounts', 'regions', 'maxConcurrency', 'maxErrors', 'maxConcurrencyPerAccountRegion', 'allowEmpty'] as const;

/**
 * The fleet fields of the request, from the flags; undefined for a single run. Values go to the
 * service as typed (a count as a number, "25%" as text): the service checks them and names the field.
 */
function fleetBody(o: RunOptions): Record<string, unknown> | undefined {
  if (o.targetTag.length === 0 && o.target.length === 0) {
    const stray = FLEET_ONLY.find((k) => o[k] !== undefined);
    if (stray) throw new CliError('USAGE', `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a fleet: give --target-tag or --target`);
    return undefined;
  }
  if (o.targetTag.length > 0 && o.target.length > 0) throw new CliError('USAGE', 'give --target-tag or --target, not both');
  const list = (v: string | undefined) =>
    v === undefined
      ? undefined
      : v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
  const rate = (v: string | undefined) => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);
  const targets: Record<string, unknown> = {};
  if (o.targetTag.length > 0) {
    const tags: Record<string, string[]> = {};
    for (const t of o.targetTag) {
      const eq = t.indexOf('=');
      if (eq <= 0) throw new CliError('USAGE', `--target-tag ${t}: expected key=value`);
      (tags[t.slice(0, eq)] ??= []).push(t.slice(eq + 1));
    }
    targets.tags = Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
  } else {
    targets.resources = o.target;
  }
  if (o.resourceType) targets.resourceType = o.resourceType;
  if (o.accounts !== undefined) targets.accounts = o.accounts === 'allowed' ? 'allowed' : list(o.accounts);
  if (o.regions !== undefined) targets.regions = list(o.regions);
  const body: Record<string, unknown> = { targets };
  if (o.maxConcurrency !== undefined) body.maxConcurrency = rate(o.maxConcurrency);
  if (o.maxErrors !== undefined) body.maxErrors = rate(o.maxErrors);
  if (o.maxConcurrencyPerAccountRegion !== undefined) body.maxConcurrencyPerAccountRegion = rate(o.maxConcurrencyPerAccountRegion);
  if (o.allowEmpty) body.allowEmpty = true;
  return body;
}

/** The fixed list before anything starts: what the fleet will act on, and its rate control. */
function printTargets(out: CliOutput, run: any): void {
  const plan = (run.steps ?? []).find((s: any) => s.id === 'targets')?.output;
  if (!plan) return;
  const targets = plan.targets as Array<{ arn: string; account: string; region: string }>;
  out.line(`${targets.length} target(s), maxConcurrency ${plan.limits.maxConcurrency}, maxErrors ${plan.limits.maxErrors}:`);
  for (const t of targets.slice(0, 50)) out.line(`  ${t.account} ${t.region} ${t.arn}`);
  if (targets.length > 50) out.line(`  … and ${targets.length - 50} more (runbookd show ${run.id})`);
}
