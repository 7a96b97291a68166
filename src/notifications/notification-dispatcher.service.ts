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
/** Most sends per round; each is claimed on its own, just before it is sent. */
const MAX_PER_ROUND = 20;
/** Scheduling slack on top of the bounded parts of one claim. */
const LEASE_SLACK_MS = 5_000;
/** The outcome write's bound when statement_timeout is off (PGlite, or configured 0). */
const UNBOUNDED_WRITE_MS = 30_000;

/**
 * How long one claim holds its row: the send (bounded by the notify timeout), then the outcome
 * write (bounded by the statement timeout), plus slack. Only after that may another dispatcher
 * take the row, so a row is never sent by two while its holder can still be sending it.
 */
export function notificationLeaseMs(config: Pick<AppConfig, 'notifications' | 'database'>): number {
  const statementMs = config.database.statementTimeoutMs;
  return config.notifications.timeoutMs + (statementMs > 0 ? statementMs : UNBOUNDED_WRITE_MS) + LEASE_SLACK_MS;
}

/**
 * Delivers the notifications outbox: rows written in the transaction that ended a run. Any
 * worker may deliver. One claim covers one send: a row is claimed (SKIP LOCKED, a lease longer
 * than the send can take, a fresh token) right before it is sent, and its outcome is recorded
 * only under that token. So replicas never send one attempt twice, a long round cannot outlive
 * the claims of rows it has not reached yet (they are not claimed), and a worker that dies
 * mid-delivery leaves its row to be retried after the lease. A failed delivery is retried with
 * exponential backoff and audited; it never touches the run.
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
    const timer = setInterval(
      () =>
        void this.dispatchDue().catch((err) => {
          if (!this.stopping) this.logger.warn(`notification round failed: ${(err as Error).message}`);
        }),
      this.config.notifications.intervalMs,
    );
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
      const leaseMs = notificationLeaseMs(this.config);
      let attempted = 0;
      while (attempted < MAX_PER_ROUND && !this.stopping) {
        const n = await this.outbox.claimNext(leaseMs);
        if (!n) break;
        attempted++;
        await this.deliver(n);
      }
      return attempted;
    } finally {
      this.busy = false;
    }
  }

  private async deliver(n: NotificationRecord): Promise<void> {
    const token = n.claimToken!;
    const run = await this.runs.get(n.runId);
    if (!run) return;
    // An approval request (approval id set) or the run's end.
    const approval = n.approvalId !== null ? await this.approvals.get(n.approvalId) : null;
    const message = approval ? approvalRequestMessage(run, approval, this.config.http.publicUrl) : notificationMessage(run, this.config.http.publicUrl);
    const redact = redactorFor(run);
    const target = n.channel === 'webhook' ? describeWebhook(n.target) : n.target;
    try {
      if (n.channel === 'sns') {
        const ctx = {
          runId: run.id,
          runbookId: run.runbookId,
          stepId: 'notify',
          actor: 'system',
          dryRun: false,
          expiresAt: run.expiresAt,
          secretValues: redact.values,
        };
        await this.sns.publish(ctx, { topicArn: n.target, subject: message.subject, message: redact.apply(message.text) });
      } else {
        await this.webhook.postJson(n.target, redact.apply(message.slack));
      }
      if (!(await this.outbox.markSent(n.id, token))) this.lostClaim(n);
      await this.audit.append({
        kind: 'notification.sent',
        runId: run.id,
        actor: 'system',
        data: { channel: n.channel, target, attempt: n.attempts, state: run.state, ...(approval ? { approvalId: approval.id } : {}) },
      });
    } catch (err) {
      const error = redact.apply({ message: (err as Error).message }).message;
      const willRetry = n.attempts < this.config.notifications.maxAttempts;
      const delayMs = Math.min(MAX_BACKOFF_MS, this.config.notifications.backoffMs * 2 ** (n.attempts - 1));
      const recorded = willRetry ? await this.outbox.markRetry(n.id, token, error, delayMs) : await this.outbox.markFailed(n.id, token, error);
      if (!recorded) this.lostClaim(n);
      await this.audit.append({
        kind: 'notification.failed',
        runId: run.id,
        actor: 'system',
        data: {
          channel: n.channel,
          target,
          attempt: n.attempts,
          maxAttempts: this.config.notifications.maxAttempts,
          error,
          willRetry,
          ...(willRetry ? { retryInMs: delayMs } : {}),
        },
      });
      this.logger.warn(
        `notification ${n.channel} for run ${run.id} failed (attempt ${n.attempts}/${this.config.notifications.maxAttempts}): ${error}${willRetry ? `; retry in ${delayMs} ms` : '; giving up'}`,
      );
    }
  }

  /** Only when a send outlived the lease (a timeout the lease does not cover, a long pause): say so, record nothing. */
  private lostClaim(n: NotificationRecord): void {
    this.logger.warn(`notification ${n.id} (${n.channel}, run ${n.runId}): claim lost before its outcome was recorded; another dispatcher holds the row`);
  }
}
