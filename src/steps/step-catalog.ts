import type { Type } from '@nestjs/common';
import type { StepType } from '../engine/step.contract';
import { WaitForAlarmStateStep } from './cloudwatch/wait-for-alarm-state.step';
import { NoopStep } from './core/noop.step';
import { SleepStep } from './core/sleep.step';
import { MarkKnownGoodStep } from './ecs/mark-known-good.step';
import { ResolveRollbackTargetStep } from './ecs/resolve-rollback-target.step';
import { UpdateServiceTaskDefinitionStep } from './ecs/update-service-task-definition.step';
import { WaitForSteadyStateStep } from './ecs/wait-for-steady-state.step';
import { DescribeFailoverTargetStep } from './rds/describe-failover-target.step';
import { FailoverStep } from './rds/failover.step';
import { VerifyFailoverStep } from './rds/verify-failover.step';
import { WaitForFailoverStep } from './rds/wait-for-failover.step';

/** Every step type, in one list: adding a step type is writing its class and naming it here. */
export const STEP_CLASSES: ReadonlyArray<Type<StepType<any, any>>> = [
  NoopStep,
  SleepStep,
  DescribeFailoverTargetStep,
  FailoverStep,
  WaitForFailoverStep,
  VerifyFailoverStep,
  ResolveRollbackTargetStep,
  UpdateServiceTaskDefinitionStep,
  WaitForSteadyStateStep,
  WaitForAlarmStateStep,
  MarkKnownGoodStep,
];
