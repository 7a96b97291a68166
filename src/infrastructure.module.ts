import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { AuditRepository } from './audit/audit.repository';
import { AUDIT_PROVIDERS } from './audit/audit.providers';
import { AuditSealerService } from './audit/audit-sealer.service';
import { AuditService } from './audit/audit.service';
import { AWS_PROVIDERS } from './aws/aws.providers';
import { Clock } from './common/clock';
import { AppConfig } from './config/app.config';
import { FaultInjector } from './faults/fault-injector';
import { ApprovalsService } from './engine/approvals.service';
import { ExecutorService } from './engine/executor.service';
import { RunFinisherService } from './engine/run-finisher.service';
import { runReaderProvider } from './engine/run-reader.port';
import { RunSecretsService } from './engine/run-secrets.service';
import { RunLeaseService } from './engine/run-lease.service';
import { StepRunnerService } from './engine/step-runner.service';
import { PreflightService } from './engine/preflight.service';
import { RunAcceptanceService } from './engine/run-acceptance.service';
import { StopSwitchService } from './engine/stop-switch.service';
import { StopSwitchRepository } from './persistence/stop-switch.repository';
import { TargetPolicyService } from './auth/target-policy.service';
import { FleetAcceptanceService } from './fleets/fleet-acceptance.service';
import { FleetApprovalService } from './fleets/fleet-approval.service';
import { FleetTargetsService } from './fleets/fleet-targets.service';
import { PolicyService } from './policy/policy.service';
import { ResilienceEvidenceRepository } from './persistence/resilience-evidence.repository';
import { ResiliencePostureService } from './fleets/resilience-posture.service';
import { RunQueue } from './engine/run-queue.adapter';
import { RunsService } from './engine/runs.service';
import { RunAccessService } from './engine/run-access.service';
import { StepRegistry } from './steps/step-registry';
import { StepTypeCatalog } from './runbooks/step-type-catalog';
import { StopConditionsService } from './engine/stop-conditions.service';
import { Database } from './persistence/database';
import { databaseProvider } from './persistence/database.provider';
import { ApprovalsRepository } from './persistence/approvals.repository';
import { RunsRepository } from './persistence/runs.repository';
import { ExecutorWritesRepository } from './persistence/executor-writes.repository';
import { AcceptanceWritesRepository } from './persistence/acceptance-writes.repository';
import { SnsMessagesRepository } from './persistence/sns-messages.repository';
import { LeftoversRepository } from './persistence/leftovers.repository';
import { NotificationsRepository } from './persistence/notifications.repository';
import { SchedulesRepository } from './persistence/schedules.repository';
import { RunbookCatalog } from './runbooks/runbook-catalog.service';
import { STEP_CLASSES } from './steps/step-catalog';
import { ScheduleQueue } from './triggers/schedules/schedule-queue.adapter';
import { SchedulesService } from './triggers/schedules/schedules.service';
import { TracingService } from './tracing/tracing.service';

/**
 * What both the API and the worker need: configuration, the database, the queue, AWS adapters,
 * the audit log, the step types and the runbook catalog.
 */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      { provide: AppConfig, useValue: config },
      databaseProvider,
      Clock,
      TracingService,
      RunsRepository,
      StopSwitchRepository,
      StopSwitchService,
      ExecutorWritesRepository,
      AcceptanceWritesRepository,
      SnsMessagesRepository,
      runReaderProvider,
      LeftoversRepository,
      AuditRepository,
      AuditService,
      ...AUDIT_PROVIDERS,
      AuditSealerService,
      ...AWS_PROVIDERS,
      ...STEP_CLASSES,
      { provide: StepRegistry, inject: [...STEP_CLASSES], useFactory: (...steps) => new StepRegistry(steps) },
      // What runbooks/ knows of the step types: the registry, through the port the catalog injects.
      { provide: StepTypeCatalog, useExisting: StepRegistry },
      RunbookCatalog,
      RunQueue,
      PolicyService,
      PreflightService,
      RunAcceptanceService,
      TargetPolicyService,
      FleetTargetsService,
      FleetAcceptanceService,
      FleetApprovalService,
      RunsService,
      RunAccessService,
      StopConditionsService,
      FaultInjector,
      RunLeaseService,
      RunSecretsService,
      StepRunnerService,
      RunFinisherService,
      ExecutorService,
      SchedulesRepository,
      NotificationsRepository,
      ScheduleQueue,
      SchedulesService,
      ApprovalsRepository,
      ApprovalsService,
      ResilienceEvidenceRepository,
      ResiliencePostureService,
    ];
    return {
      module: InfrastructureModule,
      providers: [...providers, { provide: 'DATABASE_CLOSER', inject: [Database], useFactory: (db: Database) => new DatabaseCloser(db) }],
      exports: providers,
    };
  }
}

/** Closes the database last, after the worker and queue have let go of it. */
class DatabaseCloser {
  constructor(private readonly db: Database) {}
  async onApplicationShutdown(): Promise<void> {
    await this.db.close().catch(() => undefined);
  }
}
