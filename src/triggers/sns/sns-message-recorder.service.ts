import { Injectable } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service';
import type { AuditEventInput } from '../../audit/audit.types';
import { Database } from '../../persistence/database';
import { SnsMessagesRepository, type SnsMessageRecord } from '../../persistence/sns-messages.repository';
import type { AlarmDelivery } from './alarm-delivery';

/**
 * What became of a signed SNS message: its row (which makes a redelivery a duplicate) and its
 * `sns.received` audit record, or the audit record alone where the message must be looked at
 * afresh when SNS delivers it again.
 */
@Injectable()
export class SnsMessageRecorder {
  constructor(
    private readonly db: Database,
    private readonly messages: SnsMessagesRepository,
    private readonly audit: AuditService,
  ) {}

  /** The message's row and its audit record commit together: one commit, and neither without the other. */
  async remember(
    m: AlarmDelivery,
    alarmKey: string | null,
    outcome: string,
    runIds: string[],
    receivedAt: Date,
    audit: Record<string, unknown>,
  ): Promise<void> {
    const { snsMessage, events } = this.messageRecords(m, alarmKey, outcome, runIds, receivedAt, audit);
    await this.db.transaction(async (tx) => {
      await this.messages.record(snsMessage, tx);
      await this.audit.appendMany(events, tx);
    });
  }

  messageRecords(
    m: AlarmDelivery,
    alarmKey: string | null,
    outcome: string,
    runIds: string[],
    receivedAt: Date,
    audit: Record<string, unknown>,
  ): { snsMessage: SnsMessageRecord; events: AuditEventInput[] } {
    return {
      snsMessage: { messageId: m.MessageId, type: m.Type, topicArn: m.TopicArn, alarmKey, outcome, runIds, receivedAt },
      events: [this.receivedEvent(m, outcome, audit)],
    };
  }

  async record(m: AlarmDelivery | null, outcome: string, extra: Record<string, unknown>): Promise<void> {
    await this.audit.append(this.receivedEvent(m, outcome, extra));
  }

  /** One audit record per message received; what a sender controls is clipped so it cannot bloat or break the log. */
  receivedEvent(m: AlarmDelivery | null, outcome: string, extra: Record<string, unknown>): AuditEventInput {
    const verified = outcome !== 'rejected';
    if (m?.via === 'eventbridge') {
      // Posted with the connection's key, not signed by AWS: recorded under its own kind.
      return {
        kind: 'eventbridge.received',
        runId: null,
        actor: 'eventbridge',
        data: clip({ outcome, eventId: m.MessageId.slice('eventbridge:'.length), time: m.Timestamp, ...extra }) as Record<string, unknown>,
      };
    }
    return {
      kind: 'sns.received',
      runId: null,
      actor: verified && m ? `sns:${m.TopicArn}` : 'sns:unverified',
      data: clip({
        outcome,
        type: m?.Type ?? null,
        messageId: m?.MessageId ?? null,
        topicArn: m?.TopicArn ?? null,
        timestamp: m?.Timestamp ?? null,
        ...extra,
      }) as Record<string, unknown>,
    };
  }
}

/** What a sender controls, made storable and short: NUL and lone surrogates go, strings stop at 300 characters, arrays at 20. */
export function clip(v: unknown): unknown {
  if (typeof v === 'string') {
    // PostgreSQL's jsonb refuses \u0000; other control characters are kept escaped by JSON.
    const s = v.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  }
  if (Array.isArray(v)) return v.slice(0, 20).map(clip);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clip(x)]));
  return v;
}
