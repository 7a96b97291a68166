import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { RdsFailoverAdapter } from '../../aws/rds-failover.adapter';
import type { TargetFacts } from '../../aws/target-facts';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';

interface Input {
  clusterIdentifier?: string;
  dbInstanceIdentifier?: string;
  region?: string;
  roleArn?: string;
  targetInstance?: string;
}

interface Output extends Record<string, unknown> {
  kind: 'cluster' | 'instance';
  identifier: string;
  region: string;
  status: string;
  engine: string;
  engineVersion: string;
  writer: string;
  readers: string[];
  standbyZone: string | null;
}

/** Precheck: the subject is available and can fail over, and who the writer is now. */
@Injectable()
export class DescribeFailoverTargetStep implements StepType<Input, Output> {
  readonly uses = 'rds.describe-failover-target';
  readonly description = 'Checks an Aurora cluster or Multi-AZ instance can fail over and records its writer';
  readonly mutates = false;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: {
      clusterIdentifier: { type: 'string', minLength: 1 },
      dbInstanceIdentifier: { type: 'string', minLength: 1 },
      ...TARGET_PROPERTIES,
      targetInstance: { type: 'string', minLength: 1 },
    },
    oneOf: [{ required: ['clusterIdentifier'] }, { required: ['dbInstanceIdentifier'] }],
  };
  readonly outputs = ['kind', 'identifier', 'region', 'status', 'engine', 'engineVersion', 'writer', 'readers', 'standbyZone'];

  constructor(
    private readonly rds: RdsFailoverAdapter,
    private readonly config: AppConfig,
  ) {}

  /** The subject a failover test will move: what the approval rules are matched against. */
  async targets(input: Input, ctx: StepContext): Promise<TargetFacts[]> {
    const target = targetOf(input, this.config);
    return [
      input.clusterIdentifier
        ? await this.rds.facts(ctx.aws, target, 'cluster', input.clusterIdentifier)
        : await this.rds.facts(ctx.aws, target, 'instance', input.dbInstanceIdentifier!),
    ];
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const region = target.region;
    const refuse = (message: string, details: Record<string, unknown> = {}) => new EngineError('PRECONDITION_FAILED', message, details);
    if (input.clusterIdentifier) {
      const c = await this.rds.describeCluster(ctx.aws, target, input.clusterIdentifier);
      if (c.status !== 'available') throw refuse(`cluster ${c.identifier} is ${c.status}, not available`, { status: c.status });
      if (c.members.length < 2) throw refuse(`cluster ${c.identifier} has ${c.members.length} instance(s); a failover needs a reader to promote`);
      if (!c.writer) throw refuse(`cluster ${c.identifier} reports no writer`);
      const readers = c.members.filter((m) => !m.isWriter).map((m) => m.instanceId);
      if (input.targetInstance && !readers.includes(input.targetInstance)) {
        throw refuse(`targetInstance ${input.targetInstance} is not a reader of ${c.identifier} (readers: ${readers.join(', ')})`);
      }
      return done<Output>({
        kind: 'cluster',
        identifier: c.identifier,
        region,
        status: c.status,
        engine: c.engine,
        engineVersion: c.engineVersion,
        writer: c.writer,
        readers,
        standbyZone: null,
      });
    }
    if (input.targetInstance) throw refuse('targetInstance applies to Aurora clusters only');
    const i = await this.rds.describeInstance(ctx.aws, target, input.dbInstanceIdentifier!);
    if (i.status !== 'available') throw refuse(`instance ${i.identifier} is ${i.status}, not available`, { status: i.status });
    if (!i.multiAZ) throw refuse(`instance ${i.identifier} is not Multi-AZ: a forced failover would only reboot it`);
    if (i.clusterIdentifier) throw refuse(`instance ${i.identifier} belongs to cluster ${i.clusterIdentifier}: test the cluster instead`);
    if (!i.availabilityZone) throw refuse(`instance ${i.identifier} reports no availability zone`);
    return done<Output>({
      kind: 'instance',
      identifier: i.identifier,
      region,
      status: i.status,
      engine: i.engine,
      engineVersion: i.engineVersion,
      writer: i.availabilityZone,
      readers: [],
      standbyZone: i.secondaryAvailabilityZone,
    });
  }

  summarize(o: Output): string {
    return o.kind === 'cluster'
      ? `${o.identifier} (${o.engine} ${o.engineVersion}) available; writer ${o.writer}, readers ${o.readers.join(', ')}`
      : `${o.identifier} (${o.engine} ${o.engineVersion}) available; primary in ${o.writer}, standby in ${o.standbyZone ?? 'unknown zone'}`;
  }
}
