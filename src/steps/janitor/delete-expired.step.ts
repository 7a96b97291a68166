import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { LEFTOVER_TYPES, RdsLeftoversAdapter, TaggedResource, LEFTOVER_IAM_ACTIONS } from '../../aws/rds-leftovers.adapter';
import { AwsStepError } from '../../aws/aws.error';
import { done, CreatedResource, Finding, StepContext, StepType } from '../step.contract';
import { RunReader } from '../../engine/run-reader.port';
import type { LeftoverCount } from '../../model/step-output.types';

interface Input {
  candidates: TaggedResource[];
}

interface NotRemoved extends TaggedResource {
  reason: string;
}

interface Output extends Record<string, unknown> {
  removed: TaggedResource[];
  notRemoved: NotRemoved[];
  counts: LeftoverCount[];
  findings: Finding[];
  resources: CreatedResource[];
}

const ORDER = (r: TaggedResource) => LEFTOVER_TYPES.indexOf(r.type);

/**
 * Deletes what find-expired listed, without final snapshots, each deletion audited (through the
 * same door as every mutating call). Whether the run is still active is asked again just before
 * deleting, so a run resumed in between keeps its resources. A resource already gone counts as
 * removed (a resumed sweep repeats its deletions safely); one that cannot be deleted now is
 * reported with the reason, and the next sweep tries again.
 */
@Injectable()
export class DeleteExpiredStep implements StepType<Input, Output> {
  readonly uses = 'janitor.delete-expired';
  readonly description = 'Deletes expired runbookd resources (no final snapshot) and reports what was and was not removed';
  readonly mutates = true;
  readonly iamActions = [...LEFTOVER_IAM_ACTIONS.delete];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['candidates'],
    properties: {
      candidates: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type', 'identifier', 'region', 'runId', 'expiresAt'],
          properties: {
            type: { enum: LEFTOVER_TYPES },
            identifier: { type: 'string', minLength: 1 },
            region: { type: 'string' },
            runId: { type: 'string' },
            expiresAt: { type: 'string' },
          },
        },
      },
    },
  };
  readonly outputs = ['removed', 'notRemoved', 'counts', 'findings', 'resources'];

  constructor(
    private readonly rds: RdsLeftoversAdapter,
    private readonly runs: RunReader,
  ) {}

  async plan(input: Input): Promise<PlannedCall[]> {
    return [...input.candidates].sort((a, b) => ORDER(a) - ORDER(b)).map((r) => this.rds.planDelete(r));
  }

  async run(input: Input, ctx: StepContext) {
    const active = await this.runs.notEnded([...new Set(input.candidates.map((r) => r.runId))]);
    const removed: TaggedResource[] = [];
    const notRemoved: NotRemoved[] = [];
    for (const r of [...input.candidates].sort((a, b) => ORDER(a) - ORDER(b))) {
      if (active.has(r.runId)) {
        notRemoved.push({ ...r, reason: `run ${r.runId} is active again` });
        continue;
      }
      try {
        await this.rds.delete(ctx.aws, r);
        removed.push(r);
      } catch (err) {
        if (err instanceof AwsStepError && err.code === 'AWS_NOT_FOUND') removed.push(r);
        else notRemoved.push({ ...r, reason: err instanceof AwsStepError ? `${err.code}: ${err.message}` : String(err) });
      }
    }
    const counts: LeftoverCount[] = [];
    for (const type of LEFTOVER_TYPES) {
      const n = (list: TaggedResource[]) => list.filter((r) => r.type === type).length;
      counts.push(
        { type, state: 'found', count: n(input.candidates) },
        { type, state: 'removed', count: n(removed) },
        { type, state: 'not-removed', count: n(notRemoved) },
      );
    }
    const findings: Finding[] = [
      {
        id: 'leftovers-removed',
        title: 'Expired runbookd resources removed',
        passed: notRemoved.length === 0,
        measured: removed.length,
        target: input.candidates.length,
        ...(notRemoved.length > 0
          ? {
              detail: notRemoved
                .map((r) => `${r.type} ${r.identifier}: ${r.reason}`)
                .join('; ')
                .slice(0, 1000),
            }
          : {}),
      },
    ];
    const resources: CreatedResource[] = removed.map((r) => ({
      type: r.type,
      identifier: r.identifier,
      region: r.region,
      ...(r.arn ? { arn: r.arn } : {}),
      state: 'deleted',
    }));
    return done<Output>({ removed, notRemoved, counts, findings, resources });
  }

  summarize(o: Output): string {
    return `removed ${o.removed.length}, not removed ${o.notRemoved.length}`;
  }
}
