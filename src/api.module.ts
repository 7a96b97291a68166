import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from './auth/api-key.service';
import { AuthGuard } from './auth/auth.guard';
import { HealthController } from './observability/health.controller';
import { MetricsController } from './observability/metrics.controller';
import { MetricsService } from './observability/metrics.service';
import { AuditController } from './triggers/rest/audit.controller';
import { RunbooksController } from './triggers/rest/runbooks.controller';
import { ReportsController } from './triggers/rest/reports.controller';
import { RunsController } from './triggers/rest/runs.controller';
import { SchedulesController } from './triggers/rest/schedules.controller';

/** The HTTP API: every route needs an API key unless marked @Public. */
@Module({
  controllers: [RunbooksController, RunsController, AuditController, HealthController, MetricsController, SchedulesController, ReportsController],
  providers: [ApiKeyService, MetricsService, { provide: APP_GUARD, useClass: AuthGuard }],
})
export class ApiModule {}
