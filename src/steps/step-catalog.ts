import type { Type } from '@nestjs/common';
import type { StepType } from './step.contract';
import { AwsAssertStep } from './aws/assert.step';
import { AwsCallStep } from './aws/call.step';
import { AwsWaitUntilStep } from './aws/wait-until.step';
import { DeleteExpiredStep } from './janitor/delete-expired.step';
import { FindExpiredStep } from './janitor/find-expired.step';
import { CheckRestorePointStep } from './backup/check-restore-point.step';
import { PutRestoreValidationStep } from './backup/put-restore-validation.step';
import { SettleRestoreJobStep } from './backup/settle-restore-job.step';
import { StartRestoreStep } from './backup/start-restore.step';
import { ApproveStep } from './core/approve.step';
import { NoopStep } from './core/noop.step';
import { SleepStep } from './core/sleep.step';
import { EvaluateDrillObjectivesStep } from './drill/evaluate-objectives.step';
import { AnalyzeCapacityStep } from './capacity/analyze-capacity.step';
import { DiscoverCapacityResourcesStep } from './capacity/discover-capacity-resources.step';
import { WaitForAlarmStateStep } from './cloudwatch/wait-for-alarm-state.step';
import { MarkKnownGoodStep } from './ecs/mark-known-good.step';
import { ResolveRollbackTargetStep } from './ecs/resolve-rollback-target.step';
import { UpdateServiceTaskDefinitionStep } from './ecs/update-service-task-definition.step';
import { WaitForSteadyStateStep } from './ecs/wait-for-steady-state.step';
import { DescribeFailoverTargetStep } from './rds/describe-failover-target.step';
import { FailoverStep } from './rds/failover.step';
import { CheckRestoreWindowStep } from './rds/check-restore-window.step';
import { DeleteRestoredStep } from './rds/delete-restored.step';
import { DescribeRestoreSourceStep } from './rds/describe-restore-source.step';
import { RestoreToPointInTimeStep } from './rds/restore-to-point-in-time.step';
import { TagRestoredStep } from './rds/tag-restored.step';
import { VerifyFailoverStep } from './rds/verify-failover.step';
import { VerifyRestoredStep } from './rds/verify-restored.step';
import { WaitForRestoredStep } from './rds/wait-for-restored.step';
import { WaitForFailoverStep } from './rds/wait-for-failover.step';
import { RunRunbookStep } from './runbook/run-runbook.step';
import { RunFleetStep } from './fleet/run-fleet.step';

/** Every step type, in one list: adding a step type is writing its class and naming it here. */
export const STEP_CLASSES: ReadonlyArray<Type<StepType<any, any>>> = [
  NoopStep,
  SleepStep,
  DescribeFailoverTargetStep,
  FailoverStep,
  WaitForFailoverStep,
  VerifyFailoverStep,
  DescribeRestoreSourceStep,
  CheckRestoreWindowStep,
  CheckRestorePointStep,
  StartRestoreStep,
  RestoreToPointInTimeStep,
  WaitForRestoredStep,
  TagRestoredStep,
  VerifyRestoredStep,
  PutRestoreValidationStep,
  SettleRestoreJobStep,
  DeleteRestoredStep,
  DiscoverCapacityResourcesStep,
  AnalyzeCapacityStep,
  ResolveRollbackTargetStep,
  UpdateServiceTaskDefinitionStep,
  WaitForSteadyStateStep,
  WaitForAlarmStateStep,
  MarkKnownGoodStep,
  RunRunbookStep,
  RunFleetStep,
  EvaluateDrillObjectivesStep,
  ApproveStep,
  AwsCallStep,
  AwsWaitUntilStep,
  AwsAssertStep,
  FindExpiredStep,
  DeleteExpiredStep,
];
