import type { PlannedCall } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import type { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { createdByRun, runResourceName, type ResourceTag } from '../../aws/resource-tags';
import { AwsStepError } from '../../aws/aws.error';
import { EngineError } from '../../engine/engine.error';
import type { StepContext } from '../step.contract';
import { DEFAULT_CLUSTER_INSTANCE_CLASS, observeRestored, type RestoredState, type RestoreKind } from './restored-resource';

/** Where a restored copy lives: never publicly accessible, in the given subnet group and security groups. */
export interface IsolationInput {
  instanceClass?: string;
  dbSubnetGroupName?: string;
  vpcSecurityGroupIds?: string[];
}

export const isolationProperties = {
  instanceClass: { type: 'string', pattern: '^db\\.[a-z0-9]+\\.[a-z0-9]+$' },
  dbSubnetGroupName: { type: 'string', minLength: 1 },
  vpcSecurityGroupIds: { type: 'array', items: { type: 'string', pattern: '^sg-[0-9a-f]+$' } },
} as const;

export type CreateFrom =
  | { from: 'snapshot'; snapshotIdentifier: string }
  | { from: 'point-in-time'; sourceIdentifier: string; sourceAutomatedBackupsArn?: string; restoreTime?: string; useLatestRestorableTime?: boolean };

export interface CreateSpec {
  kind: RestoreKind;
  identifier: string;
  instanceIdentifier: string;
  engine?: string;
  isolation: IsolationInput;
  tags: ResourceTag[];
  create: CreateFrom;
}

/**
 * Creates a restored copy, look before act: the copy's name is fixed in advance, so an attempt
 * that finds it (made by this run) does not call again; the intent is checkpointed before each
 * call, so a crash mid-call leaves a record of the attempt. A name held by something this run
 * did not make is never touched.
 */
export const createRestoredResource = {
  plan(rds: RdsRestoreAdapter, target: AwsTarget, spec: CreateSpec): PlannedCall[] {
    const base = baseOf(spec);
    const c = spec.create;
    if (spec.kind === 'instance') {
      return [
        c.from === 'snapshot'
          ? rds.planRestoreInstanceFromSnapshot(target, { ...base, snapshotIdentifier: c.snapshotIdentifier })
          : rds.planRestoreInstanceToPointInTime(target, { ...base, ...c }),
      ];
    }
    const { instanceClass: _unused, ...clusterBase } = base;
    return [
      c.from === 'snapshot'
        ? rds.planRestoreClusterFromSnapshot(target, { ...clusterBase, snapshotIdentifier: c.snapshotIdentifier, engine: spec.engine ?? '' })
        : rds.planRestoreClusterToPointInTime(target, { ...clusterBase, ...c }),
      rds.planCreateClusterInstance(target, clusterInstance(spec)),
    ];
  },

  /** Returns true when the copy already existed (an earlier attempt made it) and nothing was sent for it. */
  async run(rds: RdsRestoreAdapter, ctx: StepContext, target: AwsTarget, spec: CreateSpec, requestedAtMs: number): Promise<boolean> {
    const ref = { kind: spec.kind, identifier: spec.identifier, instanceIdentifier: spec.instanceIdentifier };
    const now = await observeRestored(rds, ctx.aws, target, ref);
    if (now.exists && !now.ours) {
      throw new EngineError(
        'PRECONDITION_FAILED',
        `${spec.kind} ${spec.identifier} already exists and was not created by this run; choose another target name`,
        { identifier: spec.identifier },
      );
    }
    // The cluster's instance is judged on its own: a name already held by someone else's
    // instance is refused before anything is created, never adopted (cleanup would delete it).
    const stranger =
      spec.kind === 'cluster' &&
      (now.exists ? now.instanceStatus !== null && !now.instanceOurs : await instanceHeldByAnother(rds, ctx, target, spec.instanceIdentifier));
    if (stranger) {
      throw new EngineError(
        'PRECONDITION_FAILED',
        `instance ${spec.instanceIdentifier} already exists and was not created by this run; choose another target name`,
        { identifier: spec.instanceIdentifier },
      );
    }
    let existed = now.exists;
    let instanceExists = now.instanceStatus !== null;
    if (!existed) {
      await ctx.checkpoint({ requestedAtMs });
      const base = baseOf(spec);
      const c = spec.create;
      const adopted = await adoptingConflict(rds, ctx, target, spec, 'main', async () => {
        if (spec.kind === 'instance') {
          if (c.from === 'snapshot') await rds.restoreInstanceFromSnapshot(ctx.aws, target, { ...base, snapshotIdentifier: c.snapshotIdentifier });
          else await rds.restoreInstanceToPointInTime(ctx.aws, target, { ...base, ...c });
        } else {
          const { instanceClass: _unused, ...clusterBase } = base;
          if (c.from === 'snapshot')
            await rds.restoreClusterFromSnapshot(ctx.aws, target, { ...clusterBase, snapshotIdentifier: c.snapshotIdentifier, engine: spec.engine ?? '' });
          else await rds.restoreClusterToPointInTime(ctx.aws, target, { ...clusterBase, ...c });
        }
      });
      if (adopted) {
        existed = true;
        instanceExists = adopted.instanceStatus !== null;
      }
    }
    if (spec.kind === 'cluster' && !instanceExists) {
      await ctx.checkpoint({ requestedAtMs, clusterInstanceRequested: true });
      await adoptingConflict(rds, ctx, target, spec, 'instance', () => rds.createClusterInstance(ctx.aws, target, clusterInstance(spec)).then(() => undefined));
    }
    return existed;
  },
};

/**
 * Sends one create; an "already exists" answer for the run's own name is read as "made by this
 * run": a request of an earlier attempt (an executor that lost the run while its request was on
 * the wire) reached AWS first. The step reads the resource, checks that it is this run's (tag or
 * derived name) and adopts it; a same-named resource that is not this run's stays an error.
 * Returns the state adopted, or null when the create went through.
 */
async function adoptingConflict(
  rds: RdsRestoreAdapter,
  ctx: StepContext,
  target: AwsTarget,
  spec: CreateSpec,
  which: 'main' | 'instance',
  create: () => Promise<void>,
): Promise<RestoredState | null> {
  try {
    await create();
    return null;
  } catch (err) {
    if (!(err instanceof AwsStepError && err.code === 'AWS_ALREADY_EXISTS')) throw err;
    const now = await observeRestored(rds, ctx.aws, target, { kind: spec.kind, identifier: spec.identifier, instanceIdentifier: spec.instanceIdentifier });
    const ours = which === 'main' ? now.exists && now.ours : now.instanceStatus !== null && now.instanceOurs;
    const name = which === 'main' ? `${spec.kind} ${spec.identifier}` : `instance ${spec.instanceIdentifier}`;
    if (!ours) {
      throw new EngineError('PRECONDITION_FAILED', `${name} already exists and was not created by this run; choose another target name`, {
        identifier: which === 'main' ? spec.identifier : spec.instanceIdentifier,
        awsCode: err.details.awsCode,
      });
    }
    ctx.log.log(`${name} already existed and is this run's (an earlier request of the run landed first); adopted, not created again`);
    return now;
  }
}

/** True when an instance by that name exists and is not this run's (by tag or derived name). */
async function instanceHeldByAnother(rds: RdsRestoreAdapter, ctx: StepContext, target: AwsTarget, id: string): Promise<boolean> {
  const i = await rds.findInstance(ctx.aws, target, id);
  return !!i && id !== `${runResourceName(ctx.runId)}-1` && !createdByRun(i.tags, ctx.runId);
}

/** Only the isolation fields: callers hand their whole step input in as `isolation`. */
function baseOf(spec: CreateSpec) {
  const { instanceClass, dbSubnetGroupName, vpcSecurityGroupIds } = spec.isolation;
  return { identifier: spec.identifier, instanceClass, dbSubnetGroupName, vpcSecurityGroupIds, tags: spec.tags };
}

function clusterInstance(spec: CreateSpec) {
  return {
    identifier: spec.instanceIdentifier,
    clusterIdentifier: spec.identifier,
    engine: spec.engine ?? '',
    instanceClass: spec.isolation.instanceClass ?? DEFAULT_CLUSTER_INSTANCE_CLASS,
    tags: spec.tags,
  };
}
