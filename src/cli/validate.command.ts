import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { CliContext } from './cli-context';
import { CliError } from './cli.error';
import { EXIT } from './exit-codes';

/** `validate [dir] [--policy FILE] [--resilience-policy FILE]`: the one offline command. */
export function registerValidateCommand(program: Command, ctx: CliContext): void {
  program
    .command('validate [dir]')
    .description("check a folder of runbooks, and/or a policy file (--policy), offline with the service's own loaders; prints file:path: reason per problem")
    .option('--policy <file>', 'also check this policy file (RUNBOOKD_POLICY) as the service would at boot')
    .option('--resilience-policy <file>', 'also check this resilience policy (RUNBOOKD_RESILIENCE_POLICY) as the service would at boot')
    .action(
      ctx.act(async (out, cmd, dir: string | undefined) => {
        const { policy: policyFile, resiliencePolicy } = cmd.opts<{ policy?: string; resiliencePolicy?: string }>();
        if (dir === undefined && policyFile === undefined && resiliencePolicy === undefined) {
          throw new CliError('USAGE', 'name a folder of runbooks, --policy FILE, --resilience-policy FILE, or several');
        }
        const problems: string[] = [];
        const doc: Record<string, unknown> = {};
        if (dir !== undefined) {
          if (
            !(await stat(dir).then(
              (st) => st.isDirectory(),
              () => false,
            ))
          )
            throw new CliError('USAGE', `${dir} is not a folder of runbooks`);
          // Loaded only here: the step catalog pulls in every AWS SDK client, which the API commands never need.
          const { formatProblem, validateRunbooks } = await import('./runbook-validation');
          const result = validateRunbooks(dir);
          Object.assign(doc, result);
          if (result.problems.length === 0 && !out.json) out.line(`${dir}: ${result.runbooks.length} runbook(s) valid: ${result.runbooks.join(', ')}`);
          problems.push(...result.problems.map(formatProblem));
        }
        if (policyFile !== undefined) {
          const { loadPolicy, PolicyFileError } = await import('../policy/policy-file');
          try {
            const p = loadPolicy(policyFile);
            doc.policy = {
              file: policyFile,
              valid: true,
              groups: Object.keys(p.groups),
              grants: p.grants.length,
              approvalRules: p.approvalRules.map((r) => r.id),
            };
            if (!out.json)
              out.line(
                `${policyFile}: policy valid: ${Object.keys(p.groups).length} group(s), ${p.grants.length} grant(s), ${p.approvalRules.length} approval rule(s)`,
              );
          } catch (err) {
            if (!(err instanceof PolicyFileError)) throw err;
            doc.policy = { file: policyFile, valid: false, problems: err.problems };
            problems.push(...err.problems);
          }
        }
        if (resiliencePolicy !== undefined) {
          const { loadResiliencePolicy, ResiliencePolicyFileError } = await import('../resilience/resilience-policy-file');
          try {
            const p = loadResiliencePolicy(resiliencePolicy)!;
            doc.resiliencePolicy = { file: resiliencePolicy, valid: true, tiers: Object.keys(p.tiers), assignments: p.assignments.length, tierTag: p.tierTag };
            if (!out.json)
              out.line(
                `${resiliencePolicy}: resilience policy valid: tiers ${Object.keys(p.tiers).join(', ')}; ${p.assignments.length} assignment(s)${p.tierTag ? `; tier tag ${p.tierTag}` : ''}`,
              );
          } catch (err) {
            if (!(err instanceof ResiliencePolicyFileError)) throw err;
            doc.resiliencePolicy = { file: resiliencePolicy, valid: false, problems: err.problems };
            problems.push(...err.problems);
          }
        }
        if (out.json) out.document(doc);
        else for (const p of problems) out.line(p);
        return problems.length === 0 ? EXIT.ok : EXIT.failed;
      }),
    );
}
