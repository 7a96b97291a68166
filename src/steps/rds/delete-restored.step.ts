import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import { AwsStepError } from '../../aws/aws.error';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, Finding, StepContext, StepType, wait } from '../step.contract';
import { targetOf } from '../aws-target';
import { instanceIdOf, observeRestored, resourceRecords, restoredRefProperties, type ResourceRecord, type RestoredRef } from './restored-resource';

interface Input extends RestoredRef {
  /** `recovery` keeps the copy: it is the point of the run. */
  mode?: 'drill' | 'recovery';
  pollSeconds?: number;
}

interface Output extends Record<string, unknown> {
  outcome: 'deleted' | 'deleting' | 'absent' | 'kept' | 'not-deleted';
  findings: Finding[];
  resources: ResourceRecord[];
}

/**
 * How long a delete refused as "busy" is tried again before it is given up and reported: a copy
 * still being created (a run cancelled mid-restore) cannot be deleted until RDS finishes it, which
 * takes as long as the restore. Below the runbooks' 2 h cleanup timeout, so the verdict is a
 * finding naming the copy, not a bare timeout.
 */
const GIVE_UP_AFTER_MS = 90 * 60_000;

/**
 * Cleanup of a restore test: deletes the restored copy without a final snapshot (a cluster's
 * instance first, then the cluster) and confirms it is gone or deleting. Only what this run
 * made is deleted, each resource checked on its own (see `observeRestored`). A delete that fails is a failed finding naming the resource, so the run ends
 * failed and says what was left behind.
 */
@Injectable()
export class DeleteRestoredStep implements StepType<Input, Output> {
  readonly uses = 'rds.delete-restored';
  readonly description = 'Deletes a restored copy (no final snapshot) and confirms it is gone or deleting';
  readonly mutates = true;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS, 'rds:DeleteDBInstance', 'rds:DeleteDBCluster'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'identifier'],
    properties: {
      ...restoredRefProperties,
      mode: { enum: ['drill', 'recovery'] },
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 600, default: 30 },
    },
  };
  readonly outputs = ['outcome', 'findings', 'resources'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async plan(input: Input): Promise<PlannedCall[]> {
    if (input.mode === 'recovery') return [];
    const target = targetOf(input, this.config);
    return input.kind === 'cluster'
      ? [this.rds.planDeleteInstance(target, instanceIdOf(input)), this.rds.planDeleteCluster(target, input.identifier)]
      : [this.rds.planDeleteInstance(target, input.identifier)];
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const name = `${input.kind} ${input.identifier} (${target.region})`;
    const finish = (outcome: Output['outcome'], state: string, passed: boolean, measured: string, detail?: string) =>
      done<Output>({
        outcome,
        findings: [
          { id: 'restored-copy-deleted', title: `Restored ${name} is deleted`, passed, measured, target: 'gone or deleting', ...(detail ? { detail } : {}) },
        ],
        resources: resourceRecords(input, target.region, state),
      });
    if (input.mode === 'recovery') {
      return done<Output>({ outcome: 'kept', findings: [], resources: resourceRecords(input, target.region, 'kept (recovery)') });
    }
    try {
      const before = await observeRestored(this.rds, ctx.aws, target, input);
      if (!before.exists) return finish('absent', 'absent', true, 'never created or already gone');
      if (!before.ours) {
        // Not this run's: it is no resource the run created, so it stays out of `resources`.
        return done<Output>({
          outcome: 'not-deleted',
          findings: [
            {
              id: 'restored-copy-deleted',
              title: `Restored ${name} is deleted`,
              passed: false,
              measured: 'left alone: not created by this run',
              target: 'gone or deleting',
              detail: `${name} does not carry this run's tag; this run restored nothing under that name`,
            },
          ],
          resources: [],
        });
      }
      // A cluster's `<id>-1` instance is checked on its own: someone else's instance under that
      // name stays, and is reported as not deleted; a cluster that still holds it cannot go either.
      const strangerId = input.kind === 'cluster' && before.instanceStatus !== null && !before.instanceOurs ? instanceIdOf(input) : null;
      if (strangerId !== null && before.instanceClusterId === input.identifier) {
        return done<Output>({
          outcome: 'not-deleted',
          findings: [
            {
              id: 'restored-copy-deleted',
              title: `Restored ${name} is deleted`,
              passed: false,
              measured: 'left alone: holds an instance not created by this run',
              target: 'gone or deleting',
              detail: `instance ${strangerId} in ${name} was not created by this run (no runbookd:run-id tag of this run) and was left alone; the cluster cannot be deleted while it holds it`,
            },
          ],
          resources: resourceRecords(input, target.region, 'not-deleted').filter((r) => r.identifier !== strangerId),
        });
      }
      const step = await this.deleteOnce(ctx, target, input, strangerId === null);
      if (step === 'busy') return wait<Output>(input.pollSeconds ?? 30, {}, `${name}: waiting for its instance to go before deleting the cluster`);
      const after = await observeRestored(this.rds, ctx.aws, target, input);
      if (strangerId !== null) {
        const clusterState = !after.exists ? 'deleted' : after.status;
        return done<Output>({
          outcome: 'not-deleted',
          findings: [
            {
              id: 'restored-copy-deleted',
              title: `Restored ${name} is deleted`,
              passed: false,
              measured: `cluster ${clusterState}; instance ${strangerId} left alone`,
              target: 'gone or deleting',
              detail: `instance ${strangerId} was not created by this run (no runbookd:run-id tag of this run) and was not deleted; cluster ${input.identifier} is ${clusterState}`,
            },
          ],
          resources: resourceRecords(input, target.region, clusterState).filter((r) => r.identifier !== strangerId),
        });
      }
      if (!after.exists) return finish('deleted', 'deleted', true, 'gone');
      if (after.status === 'deleting') return finish('deleting', 'deleting', true, 'deleting');
      return finish(
        'not-deleted',
        after.status,
        false,
        after.status,
        `${name} is still ${after.status} after DeleteDB${input.kind === 'cluster' ? 'Cluster' : 'Instance'}`,
      );
    } catch (err) {
      if (!(err instanceof AwsStepError)) throw err;
      if (err.retryable && this.clock.nowMs() - ctx.startedAt.getTime() < GIVE_UP_AFTER_MS)
        return wait<Output>(input.pollSeconds ?? 30, {}, `${name}: ${err.code}, trying again`);
      return finish('not-deleted', 'delete-failed', false, err.code, `could not delete ${name}: ${err.message}`);
    }
  }

  /**
   * Sends what deletion still needs; 'busy' while a cluster's instance is on its way out.
   * `withInstance` false: the instance under the cluster's `<id>-1` name is not this run's, so
   * it is neither deleted nor waited for.
   */
  private async deleteOnce(ctx: StepContext, target: AwsTarget, input: Input, withInstance = true): Promise<'sent' | 'busy'> {
    if (input.kind === 'instance') {
      const i = await this.rds.findInstance(ctx.aws, target, input.identifier);
      if (i && i.status !== 'deleting') await this.rds.deleteInstance(ctx.aws, target, input.identifier);
      return 'sent';
    }
    const i = withInstance ? await this.rds.findInstance(ctx.aws, target, instanceIdOf(input)) : null;
    if (i && i.status !== 'deleting') await this.rds.deleteInstance(ctx.aws, target, instanceIdOf(input));
    if (i && (await this.rds.findInstance(ctx.aws, target, instanceIdOf(input)))) return 'busy';
    const c = await this.rds.findCluster(ctx.aws, target, input.identifier);
    if (c && c.status !== 'deleting') await this.rds.deleteCluster(ctx.aws, target, input.identifier);
    return 'sent';
  }

  summarize(o: Output): string {
    const f = o.findings[0];
    return o.outcome === 'kept' ? 'kept (recovery mode)' : `${o.outcome}${f && !f.passed && f.detail ? `: ${f.detail}` : ''}`;
  }
}
