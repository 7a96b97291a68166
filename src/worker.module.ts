import { Module } from '@nestjs/common';
import { ReconcilerService } from './engine/reconciler.service';
import { WorkerHostService } from './engine/worker-host.service';

/** Executes runs from the queue, and re-queues accepted runs whose job was lost. */
@Module({ providers: [WorkerHostService, ReconcilerService] })
export class WorkerModule {}
