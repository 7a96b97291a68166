import type { Type } from '@nestjs/common';
import type { StepType } from '../engine/step.contract';
import { NoopStep } from './core/noop.step';
import { SleepStep } from './core/sleep.step';
import { EvaluateDrillObjectivesStep } from './drill/evaluate-objectives.step';
import { DescribeFailoverTargetStep } from './rds/describe-failover-target.step';
import { FailoverStep } from './rds/failover.step';
import { VerifyFailoverStep } from './rds/verify-failover.step';
import { WaitForFailoverStep } from './rds/wait-for-failover.step';
import { RunRunbookStep } from './runbook/run-runbook.step';

/** Every step type, in one list: adding a step type is writing its class and naming it here. */
export const STEP_CLASSES: ReadonlyArray<Type<StepType<any, any>>> = [
  NoopStep,
  SleepStep,
  DescribeFailoverTargetStep,
  FailoverStep,
  WaitForFailoverStep,
  VerifyFailoverStep,
  RunRunbookStep,
  EvaluateDrillObjectivesStep,
];
