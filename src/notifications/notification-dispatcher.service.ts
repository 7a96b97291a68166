import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app.config';
import { SnsAdapter } from '../aws/sns.adapter';
import { redactorFor } from '../engine/run-redactor';
import { ApprovalsRepository } from '../persistence/approvals.repository';
import { NotificationRecord, NotificationsRepository } from '../persistence/notifications.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { approvalRequestMessage } from './approval-request-message';
import { notificationMessage } from './notification-message';
import { describeWebhook, WebhookAdapter } from './webhook.adapter';

const INTERVAL_NAME = 'notification-dispatcher';
const MAX_BACKOFF_MS = 10 * 60_000;
/** How long a claimed notification is held before another worker may retry it (a dead dispatcher). */
const LEASE_MS = 60_000;

/**
 * Delivers the notifications outbox: rows written in the transaction that ended a run. Any
 * worker may deliver; a row is claimed with SKIP LOCKED and a lease, so replicas never send the
 * same attempt twice and a worker that dies mid-delivery leaves it to be retried. A failed
 * delivery is retried with exponential backoff and audited; it never touches the run.
 */
@Injectable()
export class NotificationDispatcherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Notifications');
  private stopping = false;
  private busy = false;

  constructor(
    private readonly outbox: NotificationsRepository,
    private readonly runs: RunsRepository,
    private readonly sns: SnsAdapter,
    private readonly webhook: WebhookAdapter,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly approvals: ApprovalsRepository,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const timer = setInterval(() => void this.dispatchDue().catch((err) => {
      if (!this.stopping) this.logger.warn(`notification round failed: ${(err as Error).message}`);
    }), this.config.notifyIntervalMs);
    timer.unref();
    this.scheduler.addInterval(INTERVAL_NAME, timer);
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
    if (this.scheduler.doesExist('interval', INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
  }

  /** One round: delivers what is due; returns how many it attempted. */
  async dispatchDue(): Promise<number> {
    if (this.stopping || this.busy) return 0;
    this.busy = true;
    try {
      const due = await this.outbox.claimDue(20, LEASE_MS);
      for (const n of due) await this.deliver(n);
      return due.length;
    } finally {
      this.busy = false;
    }
  }

  private async deliver(n: NotificationRecord): Promise<void> {
    const run = await this.runs.get(n.runId);
    if (!run) return;
    // An approval request (approval id set) or the run's end.
    const approval = n.approvalId !== null ? await this.approvals.get(n.approvalId) : null;
    const message = approval ? approvalRequestMessage(run, approval, this.config.publicUrl) : notificationMessage(run, this.config.publicUrl);
    const redact = redactorFor(run);
    const target = n.channel === 'webhook' ? describeWebhook(n.target) : n.target;
    try {
      if (n.channel === 'sns') {
        const ctx = { runId: run.id, runbookId: run.runbookId, stepId: 'notify', actor: 'system', dryRun: false, expiresAt: run.expiresAt, secretValues: redact.values };
        await this.sns.publish(ctx, { topicArn: n.target, subject: message.subject, message: redact.apply(message.text) });
      } else {
        await this.webhook.postJson(n.target, redact.apply(message.slack));
      }
      await this.outbox.markSent(n.id);
      await this.audit.append({ kind: 'notification.sent', runId: run.id, actor: 'system', data: { channel: n.channel, target, attempt: n.attempts, state: run.state, ...(approval ? { approvalId: approval.id } : {}) } });
    } catch (err) {
      const error = redact.apply({ message: (err as Error).message }).message as string;
      const willRetry = n.attempts < this.config.notifyMaxAttempts;
      const delayMs = Math.min(MAX_BACKOFF_MS, this.config.notifyBackoffMs * 2 ** (n.attempts - 1));
      if (willRetry) await this.outbox.markRetry(n.id, error, delayMs);
      else await this.outbox.markFailed(n.id, error);
      await this.audit.append({
        kind: 'notification.failed', runId: run.id, actor: 'system',
        data: { channel: n.channel, target, attempt: n.attempts, maxAttempts: this.config.notifyMaxAttempts, error, willRetry, ...(willRetry ? { retryInMs: delayMs } : {}) },
      });
      this.logger.warn(`notification ${n.channel} for run ${run.id} failed (attempt ${n.attempts}/${this.config.notifyMaxAttempts}): ${error}${willRetry ? `; retry in ${delayMs} ms` : '; giving up'}`);
    }
  }
}
