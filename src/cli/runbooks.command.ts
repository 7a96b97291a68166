import { Command } from 'commander';
import { CliContext } from './cli-context';

/** `runbooks` and `runbook <id>`: what the service has loaded. */
export function registerRunbookCommands(program: Command, ctx: CliContext): void {
  program
    .command('runbooks')
    .description('list the runbooks the service has loaded')
    .action(
      ctx.act(async (out, cmd) => {
        const body = await (await ctx.clientFor(cmd)).get('/v1/runbooks');
        if (out.json) return out.document(body);
        out.table(
          ['id', 'title'],
          body.items.map((r: any) => [r.id, r.title]),
        );
      }),
    );

  program
    .command('runbook <id>')
    .description('one runbook: parameters, guards, approval, steps')
    .action(
      ctx.act(async (out, cmd, id: string) => {
        const rb = await (await ctx.clientFor(cmd)).get(`/v1/runbooks/${encodeURIComponent(id)}`);
        if (out.json) return out.document(rb);
        out.fields([
          ['id', rb.id],
          ['title', rb.title],
          ['description', rb.description?.trim()],
          ['guards', rb.guards],
          ...(rb.approval ? [['approval', rb.approval] as [string, unknown]] : []),
        ]);
        out.line();
        const props = (rb.parameters?.properties ?? {}) as Record<string, any>;
        const required = new Set<string>(rb.parameters?.required ?? []);
        out.table(
          ['parameter', 'type', 'required', 'default', 'description'],
          Object.entries(props).map(([k, s]) => [k, Array.isArray(s.type) ? s.type.join('|') : s.type, required.has(k) ? 'yes' : '', s.default, s.description]),
        );
        out.line();
        out.table(
          ['step', 'uses', 'phase', 'if'],
          [
            ...(rb.preflight ?? []).map((s: any) => [s.id, s.uses, 'preflight', s.if]),
            ...rb.steps.map((s: any) => [s.id, s.uses, 'main', s.if]),
            ...rb.cleanup.map((s: any) => [s.id, s.uses, 'cleanup', s.if]),
          ],
        );
      }),
    );
}
