import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { ReconcilerService } from './engine/reconciler.service';
import { WorkerHostService } from './engine/worker-host.service';
import { NotificationDispatcherService } from './notifications/notification-dispatcher.service';
import { WebhookAdapter } from './notifications/webhook.adapter';
import { ScheduleHousekeepingService } from './triggers/schedules/schedule-housekeeping.service';
import { ScheduleWorkerService } from './triggers/schedules/schedule-worker.service';

/**
 * Executes runs from the queue, re-queues accepted runs whose job was lost, fires schedule
 * ticks and delivers run notifications.
 */
@Module({
  imports: [ScheduleModule.forRoot()],
  providers: [WorkerHostService, ReconcilerService, ScheduleWorkerService, ScheduleHousekeepingService, NotificationDispatcherService, WebhookAdapter],
})
export class WorkerModule {}
