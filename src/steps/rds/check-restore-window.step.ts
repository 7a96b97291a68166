import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import type { AwsTarget } from '../../aws/aws-client.factory';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, Finding, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { describeSource, SOURCE_OUTPUTS, sourceInputProperties, type SourceFacts, type SourceInput } from './restore-source';

interface Input extends SourceInput {
  restoreTime?: string;
  useLatestRestorableTime?: boolean;
  /** Restore in this region from automated backups replicated there (instances only). */
  targetRegion?: string;
}

interface Output extends SourceFacts {
  requestedPoint: string;
  earliestRestorableTime: string;
  latestRestorableTime: string;
  /** Where the restore will be created. */
  restoreRegion: string;
  /** The replicated automated backups a DR-region restore starts from; null for a same-region restore. */
  sourceAutomatedBackupsArn: string | null;
  findings: Finding[];
}

/**
 * Read-only check that a point-in-time restore can reach the requested point: the point lies
 * in the source's restorable window (in the DR region: the window of the replicated automated
 * backups). Written to run as a runbook `preflight:` step, so a point outside the window is
 * refused with a 400 before any run exists.
 */
@Injectable()
export class CheckRestoreWindowStep implements StepType<Input, Output> {
  readonly uses = 'rds.check-restore-window';
  readonly description = 'Checks a point-in-time restore target against the restorable window';
  readonly mutates = false;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS, 'rds:DescribeDBInstanceAutomatedBackups', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...sourceInputProperties,
      restoreTime: { type: 'string', format: 'date-time' },
      useLatestRestorableTime: { type: 'boolean' },
      targetRegion: { type: 'string' },
    },
    allOf: [
      { oneOf: [{ required: ['clusterIdentifier'] }, { required: ['dbInstanceIdentifier'] }] },
      { oneOf: [{ required: ['restoreTime'] }, { required: ['useLatestRestorableTime'] }] },
    ],
  };
  readonly outputs = [...SOURCE_OUTPUTS, 'requestedPoint', 'earliestRestorableTime', 'restoreRegion', 'sourceAutomatedBackupsArn', 'findings'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const source = await describeSource(this.rds, ctx.aws, target, input);
    const crossRegion = !!input.targetRegion && input.targetRegion !== target.region;
    const restoreRegion = crossRegion ? input.targetRegion! : target.region;
    const window = crossRegion ? await this.replicatedWindow(ctx, { ...target, region: restoreRegion }, source) : await this.localWindow(ctx, target, source);
    if (!window.earliest || !window.latest) {
      throw new EngineError(
        'PRECONDITION_FAILED',
        `${source.kind} ${source.identifier} has no restorable window in ${restoreRegion} (are automated backups on?)`,
        { restoreRegion },
      );
    }
    const requestedPoint = input.useLatestRestorableTime ? window.latest : new Date(input.restoreTime!).toISOString();
    const t = Date.parse(requestedPoint);
    const inside = t >= Date.parse(window.earliest) && t <= Date.parse(window.latest);
    const finding: Finding = {
      id: 'restore-time-in-window',
      title: 'The requested restore point lies inside the restorable window',
      passed: inside,
      measured: requestedPoint,
      target: `${window.earliest} – ${window.latest}`,
      ...(inside
        ? {}
        : {
            detail: `restoreTime ${requestedPoint} is outside the restorable window of ${source.identifier} in ${restoreRegion}: ${window.earliest} to ${window.latest}`,
          }),
    };
    return done<Output>({
      ...source,
      requestedPoint,
      earliestRestorableTime: window.earliest,
      latestRestorableTime: window.latest,
      restoreRegion,
      sourceAutomatedBackupsArn: window.automatedBackupsArn,
      findings: [finding],
    });
  }

  /**
   * Clusters report their window. Instances report only the latest time; the earliest comes from
   * the automated backups' restore window, or else from the oldest automated snapshot (where
   * point-in-time recovery starts).
   */
  private async localWindow(ctx: StepContext, target: AwsTarget, s: SourceFacts): Promise<Window> {
    if (s.kind === 'cluster') {
      const c = await this.rds.describeClusterDetail(ctx.aws, target, s.identifier);
      return { earliest: c.earliestRestorableTime, latest: c.latestRestorableTime, automatedBackupsArn: null };
    }
    const backups = (await this.rds.describeAutomatedBackups(ctx.aws, target, s.identifier)).filter((b) => !b.sourceRegion || b.sourceRegion === s.region);
    let earliest = minIso(backups.map((b) => b.earliestTime));
    if (!earliest) {
      const automated = (await this.rds.describeSnapshots(ctx.aws, target, { kind: 'instance', identifier: s.identifier })).filter(
        (x) => x.type === 'automated' && x.status === 'available',
      );
      earliest = minIso(automated.map((x) => x.createdAt));
    }
    return { earliest, latest: s.latestRestorableTime ?? maxIso(backups.map((b) => b.latestTime)), automatedBackupsArn: null };
  }

  private async replicatedWindow(ctx: StepContext, target: AwsTarget, s: SourceFacts): Promise<Window> {
    const region = typeof target === 'string' ? target : target.region;
    if (s.kind === 'cluster') {
      throw new EngineError(
        'PRECONDITION_FAILED',
        `a point-in-time restore of Aurora cluster ${s.identifier} into ${region} needs a global database; targetRegion applies to instances only`,
      );
    }
    const replicated = (await this.rds.describeAutomatedBackups(ctx.aws, target, s.identifier)).filter((b) => b.sourceRegion === s.region && b.arn);
    const newest = replicated.sort((a, b) => (b.latestTime ?? '').localeCompare(a.latestTime ?? ''))[0];
    if (!newest) {
      throw new EngineError('PRECONDITION_FAILED', `no automated backups of ${s.identifier} (${s.region}) are replicated to ${region}`, {
        targetRegion: region,
      });
    }
    return { earliest: newest.earliestTime, latest: newest.latestTime, automatedBackupsArn: newest.arn };
  }

  summarize(o: Output): string {
    const f = o.findings[0];
    return f?.passed
      ? `restore point ${o.requestedPoint} is inside ${o.earliestRestorableTime} – ${o.latestRestorableTime}`
      : (f?.detail ?? 'outside the window');
  }
}

interface Window {
  earliest: string | null;
  latest: string | null;
  automatedBackupsArn: string | null;
}

const minIso = (xs: Array<string | null>): string | null => xs.filter((x): x is string => !!x).sort()[0] ?? null;
const maxIso = (xs: Array<string | null>): string | null =>
  xs
    .filter((x): x is string => !!x)
    .sort()
    .reverse()[0] ?? null;
