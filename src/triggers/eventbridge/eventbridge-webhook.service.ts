import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EVENTBRIDGE_TOPIC } from '../sns/alarm-delivery';
import { AlarmNotificationService } from '../sns/alarm-notification.service';
import { matchesKeyHash } from '../webhook-secrets';
import { WebhookError } from '../webhook.error';
import { checkEventBridgeAlarmEvent } from './eventbridge-event';

export interface EventBridgeWebhookResult {
  eventId: string;
  outcome: string;
  runs: Array<{ runbookId: string; outcome: string; runId: string | null; message?: string }>;
}

/**
 * POST /v1/webhooks/eventbridge, without HTTP. The connection's API key proves the post came
 * through our EventBridge API destination, not that CloudWatch wrote the event: so the event is
 * handed to the same alarm handling as an SNS notification, which confirms the alarm at
 * CloudWatch, routes it and deduplicates it (by event id, and by alarm state change across both
 * sources, so an alarm delivered by SNS and EventBridge starts one run).
 */
@Injectable()
export class EventBridgeWebhookService {
  private readonly logger = new Logger('EventBridgeWebhook');

  constructor(
    private readonly alarms: AlarmNotificationService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async receive(body: unknown, headers: Record<string, string | string[] | undefined>, source = 'unknown'): Promise<EventBridgeWebhookResult> {
    const receivedAt = this.clock.now();
    this.authenticate(headers, source);
    const event = checkEventBridgeAlarmEvent(body);
    const result = await this.alarms.handle(
      {
        via: 'eventbridge',
        Type: 'Notification',
        MessageId: `eventbridge:${event.id}`,
        TopicArn: EVENTBRIDGE_TOPIC,
        Message: JSON.stringify(body),
        Timestamp: event.time,
      },
      receivedAt,
    );
    return { eventId: event.id, outcome: result.outcome, runs: result.runs };
  }

  private authenticate(headers: Record<string, string | string[] | undefined>, source: string): void {
    const { apiKeyHeader, apiKeySha256 } = this.config.eventbridge;
    if (apiKeySha256.length === 0) {
      throw new WebhookError('WEBHOOK_NOT_CONFIGURED', 'EventBridge alarms are not set up here (RUNBOOKD_EVENTBRIDGE_API_KEY_SHA256 is unset)');
    }
    const given = headers[apiKeyHeader];
    if (typeof given !== 'string' || given.length === 0) {
      throw new WebhookError('WEBHOOK_UNAUTHENTICATED', `the ${apiKeyHeader} header is missing (the EventBridge connection's API key)`, {
        header: apiKeyHeader,
      });
    }
    if (!matchesKeyHash(given, apiKeySha256)) {
      this.logger.warn(`refused an EventBridge post from ${source}: wrong API key`);
      throw new WebhookError('WEBHOOK_UNAUTHENTICATED', `the ${apiKeyHeader} header does not hold a configured key`, { header: apiKeyHeader });
    }
  }
}
