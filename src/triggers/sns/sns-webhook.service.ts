import { Injectable, Logger } from '@nestjs/common';
import { SnsAdapter } from '../../aws/sns.adapter';
import { Clock } from '../../common/clock';
import { AlarmNotificationService, type SnsWebhookResult } from './alarm-notification.service';
import { SnsEnvelopeCheck } from './sns-envelope.check';
import type { SnsMessage } from './sns-message';
import { SnsMessageRecorder } from './sns-message-recorder.service';

/**
 * POST /v1/webhooks/sns, without HTTP: the envelope check (SnsEnvelopeCheck), then a subscription
 * confirmed, an unsubscribe noted, or a notification handed to the alarm handling
 * (AlarmNotificationService). Every message past the check is audited with what became of it
 * (SnsMessageRecorder).
 */
@Injectable()
export class SnsWebhookService {
  private readonly logger = new Logger('SnsWebhook');

  constructor(
    private readonly envelope: SnsEnvelopeCheck,
    private readonly alarms: AlarmNotificationService,
    private readonly recorder: SnsMessageRecorder,
    private readonly sns: SnsAdapter,
    private readonly clock: Clock,
  ) {}

  async receive(body: unknown, headers: Record<string, string | string[] | undefined>, source = 'unknown'): Promise<SnsWebhookResult> {
    const receivedAt = this.clock.now();
    const m = await this.envelope.check(body, headers, source, receivedAt);
    switch (m.Type) {
      case 'SubscriptionConfirmation':
        return this.confirm(m);
      case 'UnsubscribeConfirmation':
        // Someone unsubscribed this endpoint; re-subscribing is a person's decision, so it is only noted.
        await this.recorder.record(m, 'unsubscribe-noted', {});
        return { type: m.Type, messageId: m.MessageId, outcome: 'unsubscribe-noted', runs: [] };
      case 'Notification':
        return this.alarms.handle(m, receivedAt);
    }
  }

  private async confirm(m: SnsMessage): Promise<SnsWebhookResult> {
    const region = m.TopicArn.split(':')[3];
    const { subscriptionArn } = await this.sns.confirmSubscription(
      { runId: '', runbookId: '', stepId: 'sns-webhook', actor: `sns:${m.TopicArn}`, dryRun: false, expiresAt: this.clock.now() },
      region,
      { topicArn: m.TopicArn, token: m.Token! },
    );
    await this.recorder.record(m, 'subscription-confirmed', { subscriptionArn });
    this.logger.log(`confirmed the subscription to ${m.TopicArn}`);
    return { type: m.Type, messageId: m.MessageId, outcome: 'subscription-confirmed', runs: [] };
  }
}
