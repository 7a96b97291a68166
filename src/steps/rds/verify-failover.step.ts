import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { RdsFailoverAdapter } from '../../aws/rds-failover.adapter';
import { AppConfig } from '../../config/app.config';
import { done, Finding, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { FailoverSubject, observeWriter, failoverSubjectProperties } from './failover-subject';

interface Input extends FailoverSubject {
  previousWriter: string;
  newWriter: string;
  switchSeconds: number;
  maxSwitchSeconds: number;
  targetInstance?: string;
}

interface Output extends Record<string, unknown> {
  writer: string | null;
  status: string;
  findings: Finding[];
  figures: Array<{ id: string; label: string; value: number | string | null; unit?: string }>;
}

/**
 * Checks the failover against what was asked: a new writer that stays the writer, the subject
 * available, and the switch time within its target. A failed check fails the run at the end,
 * after failback and cleanup have still run.
 */
@Injectable()
export class VerifyFailoverStep implements StepType<Input, Output> {
  readonly uses = 'rds.verify-failover';
  readonly description = 'Checks the new writer, availability and switch time against the target';
  readonly mutates = false;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'identifier', 'previousWriter', 'newWriter', 'switchSeconds', 'maxSwitchSeconds'],
    properties: {
      ...failoverSubjectProperties,
      previousWriter: { type: 'string' },
      newWriter: { type: 'string' },
      switchSeconds: { type: 'number', minimum: 0 },
      maxSwitchSeconds: { type: 'number', exclusiveMinimum: 0 },
      targetInstance: { type: 'string' },
    },
  };
  readonly outputs = ['writer', 'status', 'findings', 'figures'];

  constructor(
    private readonly rds: RdsFailoverAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const now = await observeWriter(this.rds, ctx.aws, target, input);
    const what = input.kind === 'cluster' ? 'writer' : 'primary zone';
    const findings: Finding[] = [
      {
        id: 'writer-changed',
        title: `The ${what} moved to another ${input.kind === 'cluster' ? 'instance' : 'zone'} and stayed there`,
        passed: input.newWriter !== input.previousWriter && now.writer === input.newWriter,
        measured: `${input.previousWriter} → ${now.writer ?? 'none'}`,
      },
      {
        id: 'available',
        title: `${input.identifier} is available after the failover`,
        passed: now.status === 'available',
        measured: now.status,
        target: 'available',
      },
      {
        id: 'switch-time',
        title: 'Switch time within target',
        passed: input.switchSeconds <= input.maxSwitchSeconds,
        measured: input.switchSeconds,
        target: input.maxSwitchSeconds,
        unit: 's',
      },
    ];
    if (input.targetInstance) {
      findings.push({
        id: 'target-promoted',
        title: `The requested instance ${input.targetInstance} became the writer`,
        passed: now.writer === input.targetInstance,
        measured: now.writer,
        target: input.targetInstance,
      });
    }
    return done<Output>({
      writer: now.writer,
      status: now.status,
      findings,
      figures: [
        { id: 'previous-writer', label: `${capital(what)} before`, value: input.previousWriter },
        { id: 'new-writer', label: `${capital(what)} after`, value: now.writer },
        { id: 'max-switch-seconds', label: 'Switch time target', value: input.maxSwitchSeconds, unit: 's' },
      ],
    });
  }

  summarize(o: Output): string {
    const failed = o.findings.filter((f) => !f.passed);
    return failed.length === 0 ? `all ${o.findings.length} checks passed` : `failed: ${failed.map((f) => f.id).join(', ')}`;
  }
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
