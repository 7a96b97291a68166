import { Command } from 'commander';
import { CliContext } from './cli-context';
import { argsOf, shortTime } from './cli-output';
import { EXIT } from './exit-codes';

interface ListOptions {
  run?: string;
  kind?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit: string;
  oldestFirst?: boolean;
  before?: string;
  after?: string;
}

/** `audit` (the records, newest first, with the API's filters) and `audit verify` (the hash chain, checked by the service). */
export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('the audit log: `audit` lists records (newest first), `audit verify` checks the chain');

  audit
    .command('list', { isDefault: true })
    .description("audit records, newest first; the filters are the API's (GET /v1/audit)")
    .option('--run <run>', "only this run's records")
    .option('--kind <kind>', 'only this kind (run.accepted), or a family ending in a dot (approval.)')
    .option('--actor <name>', 'only what this person or key did')
    .option('--since <time>', 'written at or after this ISO 8601 time (2026-12-01T00:00:00Z)')
    .option('--until <time>', 'written before this ISO 8601 time')
    .option('--limit <n>', 'at most this many (1-1000)', '50')
    .option('--oldest-first', "in the chain's order instead")
    .option('--before <seq>', 'newest first: the page after the one that ended here (the hint the last page printed)')
    .option('--after <seq>', 'oldest first: the page after the one that ended here')
    .action(
      ctx.act(async (out, cmd) => {
        const o = cmd.opts<ListOptions>();
        const filters: Record<string, string | undefined> = { runId: o.run, kind: o.kind, actor: o.actor, since: o.since, until: o.until };
        const q = new URLSearchParams(
          Object.entries({
            ...filters,
            limit: o.limit,
            order: o.oldestFirst ? 'asc' : 'desc',
            beforeSeq: o.before,
            afterSeq: o.after,
          }).filter((e): e is [string, string] => e[1] !== undefined),
        );
        const body = await (await ctx.clientFor(cmd)).get(`/v1/audit?${q.toString()}`);
        if (out.json) return out.document(body);
        out.table(
          ['seq', 'at', 'kind', 'actor', 'run', 'what'],
          body.items.map((r: any) => [r.seq, shortTime(r.at), r.kind, r.actor, r.runId, summary(r.data)]),
        );
        const again = { run: o.run, kind: o.kind, actor: o.actor, since: o.since, until: o.until, limit: o.limit };
        if (body.nextBeforeSeq) out.line(out.dim(`more: runbookd audit ${argsOf({ ...again, before: String(body.nextBeforeSeq) })}`));
        if (body.nextAfterSeq && o.oldestFirst)
          out.line(out.dim(`more: runbookd audit --oldest-first ${argsOf({ ...again, after: String(body.nextAfterSeq) })}`));
      }),
    );

  audit
    .command('verify')
    .description('check the whole hash chain; exit 1 if it is broken')
    .action(
      ctx.act(async (out, cmd) => {
        const v = await (await ctx.clientFor(cmd)).get('/v1/audit/verify');
        if (out.json) out.document(v);
        else
          out.line(
            v.ok ? `audit chain intact: ${v.records} records, head ${v.headHash}` : out.red(`audit chain BROKEN at record ${JSON.stringify(v.firstBadRecord)}`),
          );
        return v.ok ? EXIT.ok : EXIT.failed;
      }),
    );
}

/** A record's data in one cell: its most telling fields first, cut to fit a terminal line. */
function summary(data: Record<string, unknown> | null | undefined): string {
  if (!data) return '';
  const first = ['stepId', 'state', 'runbookId', 'scheduleId', 'operation', 'reason', 'comment'];
  const keys = [...first.filter((k) => k in data), ...Object.keys(data).filter((k) => !first.includes(k))];
  const text = keys.map((k) => `${k}=${typeof data[k] === 'string' ? data[k] : JSON.stringify(data[k])}`).join(' ');
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}
