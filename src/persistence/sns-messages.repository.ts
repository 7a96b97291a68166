import { Injectable } from '@nestjs/common';
import { Database, Queryable } from './database';
import { databaseGroupCommit, GroupCommit } from './group-commit';

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
  /** Every notification asks whether it was seen before: in a storm, one read answers all that arrive while the last is in flight. */
  private readonly seen: GroupCommit<string, SnsMessageRecord | null>;

  constructor(private readonly db: Database) {
    this.seen = databaseGroupCommit(db, async (ids) => {
      const rows = await db.query<Row>('SELECT * FROM sns_messages WHERE message_id = ANY($1::text[])', [ids]);
      const byId = new Map(rows.map((r) => [r.message_id as string, toRecord(r)]));
      return ids.map((id) => byId.get(id) ?? null);
    });
  }

  get(messageId: string): Promise<SnsMessageRecord | null> {
    return this.seen.submit(messageId);
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
    messageId: r.message_id,
    type: r.type,
    topicArn: r.topic_arn,
    alarmKey: r.alarm_key,
    outcome: r.outcome,
    runIds: r.run_ids ?? [],
    receivedAt: new Date(r.received_at),
  };
}
