import { Injectable } from '@nestjs/common';
import { Database, Queryable } from './database';

export interface SnsMessageRecord {
  messageId: string;
  type: string;
  topicArn: string;
  alarmKey: string | null;
  outcome: string;
  runIds: string[];
  receivedAt: Date;
}

type Row = Record<string, any>;

/** The webhook's memory of what it has already handled, keyed by SNS MessageId. */
@Injectable()
export class SnsMessagesRepository {
  constructor(private readonly db: Database) {}

  async get(messageId: string, q: Queryable = this.db): Promise<SnsMessageRecord | null> {
    const rows = await q.query<Row>('SELECT * FROM sns_messages WHERE message_id = $1', [messageId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The first record wins: a concurrent repeat that also got this far leaves the original in place. */
  async record(m: SnsMessageRecord, q: Queryable = this.db): Promise<void> {
    await q.query(
      `INSERT INTO sns_messages (message_id, type, topic_arn, alarm_key, outcome, run_ids, received_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (message_id) DO NOTHING`,
      [m.messageId, m.type, m.topicArn, m.alarmKey, m.outcome, JSON.stringify(m.runIds), m.receivedAt.toISOString()],
    );
  }
}

function toRecord(r: Row): SnsMessageRecord {
  return {
    messageId: r.message_id, type: r.type, topicArn: r.topic_arn, alarmKey: r.alarm_key, outcome: r.outcome,
    runIds: r.run_ids ?? [], receivedAt: new Date(r.received_at),
  };
}
