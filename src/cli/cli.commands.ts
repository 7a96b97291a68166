import { stat, writeFile } from 'node:fs/promises';
import * as readline from 'node:readline';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../runbooks/duration';
import { ApiClient } from './api-client.adapter';
import { CliEnvironment, resolveConnection, writeProfile } from '../config/cli.config';
import { CliError } from './cli.error';
import { CliOutput, seconds, shortTime } from './cli-output';
import { buildParameters } from './cli-parameters';
import { EXIT, exitCodeForState, ExitCode } from './exit-codes';
import { followRun } from './run-follower';

interface GlobalOptions {
  json?: boolean;
  url?: string;
  color?: boolean;
}

export interface CliIo {
  env: CliEnvironment;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

/**
 * Runs one CLI invocation and returns its exit code (see exit-codes.ts). Every command is a
 * client of the HTTP API except `validate` (offline) and `login` (writes the profile file).
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.ok;
  const outputFor = (cmd: Command): CliOutput => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return new CliOutput({ json: !!g.json, colour: g.color !== false && !!io.stdout.isTTY && !io.env.noColor }, io.stdout, io.stderr);
  };
  const clientFor = async (cmd: Command): Promise<ApiClient> => new ApiClient(await resolveConnection(io.env, cmd.optsWithGlobals<GlobalOptions>().url));
  /** Wraps an action: the result is the exit code. */
  const act = <A extends unknown[]>(fn: (out: CliOutput, cmd: Command, ...args: A) => Promise<ExitCode | void>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      exitCode = (await fn(outputFor(cmd), cmd, ...(args.slice(0, -2) as A))) ?? EXIT.ok;
    };

  const program = new Command('runbookd')
    .description('Start, follow and inspect runbookd runs; approve or reject them; validate runbooks offline.')
    .option('--json', 'print one JSON document (for scripts); messages go to stderr')
    .option('--url <url>', 'runbookd base URL (default: RUNBOOKD_URL, then the profile file)')
    .option('--no-color', 'no colour even on a terminal (NO_COLOR works too)')
    .showHelpAfterError('(runbookd --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  program.addHelpText('after', `
Exit codes: 0 succeeded, 1 failed, 2 aborted by a guard, 3 cancelled, 4 approval rejected or expired,
5 still running when --timeout ran out, 64 usage error, 69 service unreachable, 77 not authorised.
Configuration: RUNBOOKD_URL and RUNBOOKD_API_KEY, or the profile written by \`runbookd login\`
(${io.env.profileFile}).`);

  program
    .command('login')
    .description('check a key against the service and save URL and key to the profile file (mode 0600); the key is read from stdin')
    .action(act(async (out, cmd) => {
      // --url is the global option: `runbookd login --url <url>` and `runbookd --url <url> login` both work.
      const given = cmd.optsWithGlobals<GlobalOptions>().url ?? io.env.url;
      if (!given) throw new CliError('USAGE', 'login needs --url <runbookd base URL>');
      const url = given.replace(/\/+$/, '');
      const apiKey = io.env.apiKey ?? (await readSecret(io, 'API key: '));
      if (!apiKey) throw new CliError('USAGE', 'no API key given on stdin');
      // Refuse to save a key the service does not take: the next command would only fail later.
      await new ApiClient({ url, apiKey }).get('/v1/runbooks');
      await writeProfile(io.env.profileFile, { url, apiKey });
      if (out.json) out.document({ url, profileFile: io.env.profileFile });
      else out.line(`saved ${url} and the key to ${io.env.profileFile} (mode 0600)`);
    }));

  program
    .command('runbooks')
    .description('list the runbooks the service has loaded')
    .action(act(async (out, cmd) => {
      const body = await (await clientFor(cmd)).get('/v1/runbooks');
      if (out.json) return out.document(body);
      out.table(['id', 'title'], body.items.map((r: any) => [r.id, r.title]));
    }));

  program
    .command('runbook <id>')
    .description('one runbook: parameters, guards, approval, steps')
    .action(act(async (out, cmd, id: string) => {
      const rb = await (await clientFor(cmd)).get(`/v1/runbooks/${encodeURIComponent(id)}`);
      if (out.json) return out.document(rb);
      out.fields([['id', rb.id], ['title', rb.title], ['description', rb.description?.trim()], ['guards', rb.guards], ...(rb.approval ? [['approval', rb.approval] as [string, unknown]] : [])]);
      out.line();
      const props = (rb.parameters?.properties ?? {}) as Record<string, any>;
      const required = new Set<string>(rb.parameters?.required ?? []);
      out.table(['parameter', 'type', 'required', 'default', 'description'],
        Object.entries(props).map(([k, s]) => [k, Array.isArray(s.type) ? s.type.join('|') : s.type, required.has(k) ? 'yes' : '', s.default, s.description]));
      out.line();
      out.table(['step', 'uses', 'phase', 'if'], [
        ...(rb.preflight ?? []).map((s: any) => [s.id, s.uses, 'preflight', s.if]),
        ...rb.steps.map((s: any) => [s.id, s.uses, 'main', s.if]),
        ...rb.cleanup.map((s: any) => [s.id, s.uses, 'cleanup', s.if]),
      ]);
    }));

  program
    .command('run <runbook>')
    .description('start a run; with --follow, print each step as it starts and ends, then the key figures and findings')
    .option('-p, --param <key=value>', 'a parameter (repeatable); typed by the runbook\'s parameter schema', collect, [])
    .option('--params-file <file>', 'parameters from a JSON file (-p values override it)')
    .option('--dry-run', 'plan the AWS calls, change nothing')
    .option('--reason <text>', 'why (recorded with the run and in the audit log)')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the same run')
    .option('-f, --follow', 'follow the run until it ends; the exit code says how it ended')
    .addOption(new Option('--timeout <duration>', 'with --follow: stop following after this long (e.g. 90s, 10m) and exit 5').argParser(durationMs))
    .action(act(async (out, cmd, runbookId: string) => {
      const o = cmd.opts<{ param: string[]; paramsFile?: string; dryRun?: boolean; reason?: string; idempotencyKey?: string; follow?: boolean; timeout?: number }>();
      if (o.timeout !== undefined && !o.follow) throw new CliError('USAGE', '--timeout needs --follow');
      const client = await clientFor(cmd);
      const rb = await client.get(`/v1/runbooks/${encodeURIComponent(runbookId)}`);
      const parameters = await buildParameters(o.param, o.paramsFile, rb.parameters);
      const run = await client.post(`/v1/runbooks/${encodeURIComponent(runbookId)}/runs`,
        { parameters, dryRun: !!o.dryRun, ...(o.reason ? { reason: o.reason } : {}) },
        o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {});
      if (!o.follow) {
        if (out.json) return out.document(run);
        out.line(`${run.deduplicated ? 'already accepted' : 'accepted'}: run ${out.bold(run.id)} (${run.runbookId}${run.dryRun ? ', dry run' : ''}) ${run.state}`);
        out.line(out.dim(`follow it: runbookd show ${run.id}   report: runbookd report ${run.id}`));
        return;
      }
      out.line(`run ${out.bold(run.id)} accepted (${run.runbookId}${run.dryRun ? ', dry run' : ''})`);
      return finishFollow(client, out, run.id, o.timeout);
    }));

  program
    .command('follow <run>')
    .description('follow a run that is already going; the exit code says how it ended')
    .addOption(new Option('--timeout <duration>', 'stop following after this long and exit 5').argParser(durationMs))
    .action(act(async (out, cmd, runId: string) => finishFollow(await clientFor(cmd), out, runId, cmd.opts<{ timeout?: number }>().timeout)));

  program
    .command('runs')
    .description('runs, newest first')
    .option('--runbook <id>', 'only this runbook\'s runs')
    .option('--state <state>', 'only runs in this state')
    .option('--limit <n>', 'at most this many (1-200)', '20')
    .action(act(async (out, cmd) => {
      const o = cmd.opts<{ runbook?: string; state?: string; limit: string }>();
      const q = new URLSearchParams({ limit: o.limit, ...(o.runbook ? { runbook: o.runbook } : {}), ...(o.state ? { state: o.state } : {}) });
      const body = await (await clientFor(cmd)).get(`/v1/runs?${q}`);
      if (out.json) return out.document(body);
      out.table(['run', 'runbook', 'state', 'actor', 'accepted', 'ended', 'error'],
        body.items.map((r: any) => [r.id, r.runbookId, out.state(r.state) + (r.dryRun ? ' (dry)' : ''), r.actor, shortTime(r.createdAt), shortTime(r.endedAt), r.error?.code]));
    }));

  program
    .command('show <run>')
    .description('one run: state, parameters, steps')
    .action(act(async (out, cmd, runId: string) => {
      const client = await clientFor(cmd);
      const r = await client.get(`/v1/runs/${encodeURIComponent(runId)}`);
      if (out.json) return out.document(r);
      out.fields([
        ['run', r.id], ['runbook', r.runbookId], ['state', out.state(r.state) + (r.dryRun ? ' (dry run)' : '')], ['actor', r.actor],
        ['trigger', r.trigger?.kind], ['reason', r.reason], ['parameters', r.parameters], ['accepted', shortTime(r.createdAt)],
        ['ended', shortTime(r.endedAt)], ...(r.error ? [['error', `${r.error.code}: ${r.error.message}`] as [string, unknown]] : []),
      ]);
      // Only gated runs have one; a 404 here just means none.
      const approval = await client.get(`/v1/runs/${encodeURIComponent(runId)}/approval`).catch(() => undefined);
      if (approval) out.fields([['approval', describeApproval(approval)]]);
      out.line();
      out.table(['step', 'phase', 'uses', 'state', 'took', 'note'],
        (r.steps ?? []).map((s: any) => [s.id, s.phase, s.uses, out.state(s.state), seconds(s.durationMs), s.error ? `${s.error.code}: ${s.error.message}` : s.note]));
    }));

  program
    .command('cancel <run>')
    .description('stop a run at its next step boundary or wait; cleanup still runs')
    .action(act(async (out, cmd, runId: string) => {
      const r = await (await clientFor(cmd)).post(`/v1/runs/${encodeURIComponent(runId)}/cancel`);
      if (out.json) return out.document(r);
      out.line(`cancel requested for run ${r.id} (now ${r.state}); cleanup still runs`);
    }));

  program
    .command('report <run>')
    .description('the run\'s report')
    .addOption(new Option('--format <format>', 'report format').choices(['md', 'html', 'json']).default('md'))
    .option('-o, --output <file>', 'write it to this file instead of stdout')
    .action(act(async (out, cmd, runId: string) => {
      const o = cmd.opts<{ format: string; output?: string }>();
      // --json asks for the JSON report whatever --format says.
      const format = out.json ? 'json' : o.format;
      const res = await (await clientFor(cmd)).send('GET', `/v1/runs/${encodeURIComponent(runId)}/report?format=${format}`);
      const text = format === 'json' ? `${JSON.stringify(res.body, null, 2)}\n` : res.text;
      if (!o.output) return out.raw(text);
      try {
        await writeFile(o.output, text);
      } catch (err) {
        throw new CliError('FAILED', `cannot write ${o.output}: ${(err as Error).message}`);
      }
      out.line(`wrote the ${format} report of ${runId} to ${o.output}`);
    }));

  program
    .command('approvals')
    .description('approvals waiting for a decision')
    .addOption(new Option('--state <state>', 'which approvals').choices(['pending', 'approved', 'rejected', 'expired', 'void']).default('pending'))
    .action(act(async (out, cmd) => {
      const body = await (await clientFor(cmd)).get(`/v1/approvals?state=${cmd.opts<{ state: string }>().state}`);
      if (out.json) return out.document(body);
      out.table(['run', 'runbook', 'gate', 'requested by', 'approvals', 'expires', 'plan'],
        body.items.map((a: any) => [a.runId, a.runbookId, a.gate, a.requestedBy, `${a.approvals?.length ?? 0}/${a.minApprovals}`, shortTime(a.expiresAt), planLine(a)]));
      for (const a of body.items) out.line(out.dim(`  approve: runbookd approve ${a.runId} -m "…"   reject: runbookd reject ${a.runId} -m "…"`));
    }));

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(`${decision} <run>`)
      .description(decision === 'approve' ? 'approve the run\'s pending approval (not your own run)' : 'reject the run\'s pending approval: the run ends rejected, cleanup runs')
      .addOption(decision === 'reject' ? new Option('-m, --message <comment>', 'why (recorded in the audit log)').makeOptionMandatory() : new Option('-m, --message <comment>', 'a comment (recorded in the audit log)'))
      .action(act(async (out, cmd, runId: string) => {
        const client = await clientFor(cmd);
        const m = cmd.opts<{ message?: string }>().message;
        // Bind the decision to the plan this person could see: if it changed since, the API refuses.
        const planHash = (await client.get(`/v1/runs/${encodeURIComponent(runId)}/approval`)).planHash as string | undefined;
        const r = await client.post(`/v1/runs/${encodeURIComponent(runId)}/${decision}`, { ...(m ? { comment: m } : {}), ...(planHash ? { planHash } : {}) });
        if (out.json) return out.document(r);
        out.line(`${decision === 'approve' ? 'approved' : 'rejected'} run ${runId}: approval now ${r.state} (${r.approvals?.length ?? 0}/${r.minApprovals})`);
      }));
  }

  program
    .command('schedules')
    .description('schedule triggers and their next ticks')
    .action(act(async (out, cmd) => {
      const body = await (await clientFor(cmd)).get('/v1/schedules');
      if (out.json) return out.document(body);
      out.table(['schedule', 'cron', 'timezone', 'paused', 'next', 'last tick'],
        body.items.map((s: any) => [s.id, s.cron ?? s.pattern, s.timezone, s.paused ? 'yes' : 'no', shortTime(s.nextFireAt), shortTime(s.lastTickAt)]));
    }));

  for (const verb of ['pause', 'resume'] as const) {
    program
      .command(`${verb} <schedule>`)
      .description(verb === 'pause' ? 'stop a schedule\'s ticks (those in the pause are not caught up)' : 'restart a paused schedule')
      .action(act(async (out, cmd, id: string) => {
        const s = await (await clientFor(cmd)).post(`/v1/schedules/${encodeURIComponent(id)}/${verb}`);
        if (out.json) return out.document(s);
        out.line(`schedule ${s.id ?? id} ${s.paused ? 'paused' : 'running'}${s.nextFireAt ? `; next tick ${shortTime(s.nextFireAt)}` : ''}`);
      }));
  }

  program
    .command('audit')
    .description('the audit log')
    .command('verify')
    .description('check the whole hash chain; exit 1 if it is broken')
    .action(act(async (out, cmd) => {
      const v = await (await clientFor(cmd)).get('/v1/audit/verify');
      if (out.json) out.document(v);
      else out.line(v.ok ? `audit chain intact: ${v.records} records, head ${v.headHash}` : out.red(`audit chain BROKEN at record ${JSON.stringify(v.firstBadRecord)}`));
      return v.ok ? EXIT.ok : EXIT.failed;
    }));

  program
    .command('validate <dir>')
    .description('check a folder of runbooks offline with the service\'s own loader and schema; prints file:path: reason per problem')
    .action(act(async (out, _cmd, dir: string) => {
      if (!(await stat(dir).then((st) => st.isDirectory(), () => false))) throw new CliError('USAGE', `${dir} is not a folder of runbooks`);
      // Loaded only here: the step catalog pulls in every AWS SDK client, which the API commands never need.
      const { formatProblem, validateRunbooks } = await import('./validate.command');
      const result = validateRunbooks(dir);
      if (out.json) out.document(result);
      else if (result.problems.length === 0) out.line(`${dir}: ${result.runbooks.length} runbook(s) valid: ${result.runbooks.join(', ')}`);
      else for (const p of result.problems) out.line(formatProblem(p));
      return result.problems.length === 0 ? EXIT.ok : EXIT.failed;
    }));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
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
    io.stderr.write(`runbookd: unexpected error: ${(err as Error).stack ?? err}\n`);
    return EXIT.failed;
  }
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
    for (const f of figures) out.line(`  ${f.label}: ${f.value}${f.unit ? ` ${f.unit}` : ''}`);
  }
  const findings = (report.findings ?? []) as Array<{ title: string; passed: boolean; measured?: unknown; target?: unknown; unit?: string }>;
  if (findings.length > 0) {
    out.line(out.bold('findings'));
    for (const f of findings) {
      const unit = f.unit ? ` ${f.unit}` : '';
      const measured = f.measured !== undefined && f.measured !== null ? ` (${f.measured}${unit}${f.target !== undefined && f.target !== null ? `, target ${f.target}${unit}` : ''})` : '';
      out.line(`  ${f.passed ? out.green('✓ pass') : out.red('✗ FAIL')} ${f.title}${measured}`);
    }
  }
  out.line(out.dim(`report: runbookd report ${run.id} --format md|html|json`));
}

function describeApproval(a: any): string {
  return `${a.state}${a.reason && a.reason !== a.state ? ` (${a.reason})` : ''}, ${a.approvals?.length ?? 0}/${a.minApprovals} approvals${a.expiresAt ? `, expires ${shortTime(a.expiresAt)}` : ''}${a.planHash ? `, plan ${String(a.planHash).slice(0, 12)}` : ''}`;
}

/** The plan in one cell: each AWS call still to come, or the step whose calls are known only later. */
function planLine(a: any): string {
  const steps = (a.plan?.steps ?? []) as Array<{ stepId: string; uses: string; calls: Array<{ service: string; operation: string }> | null }>;
  const parts = steps.flatMap((s) => (s.calls === null ? [`${s.stepId}: ${s.uses} (later)`] : s.calls.map((c) => `${c.service}:${c.operation}`)));
  return parts.length ? parts.join(', ') : '-';
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function durationMs(value: string): number {
  const s = /^\d+(\.\d+)?$/.test(value) ? Number(value) : parseDuration(value);
  if (s === undefined || !(s > 0)) throw new InvalidArgumentError('give a duration such as 90s, 10m or 1h');
  return s * 1000;
}

async function readSecret(io: CliIo, prompt: string): Promise<string> {
  const rl = readline.createInterface({ input: io.stdin, output: io.stdin.isTTY ? io.stderr : undefined, terminal: !!io.stdin.isTTY });
  if (io.stdin.isTTY) {
    io.stderr.write(prompt);
    // Do not echo the key on the terminal.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  try {
    for await (const line of rl) return line.trim();
    return '';
  } finally {
    rl.close();
    if (io.stdin.isTTY) io.stderr.write('\n');
  }
}
