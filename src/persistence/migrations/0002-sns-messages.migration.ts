import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 2,
  name: 'SNS messages received by the webhook (exactly-once alarm delivery)',
  sql: `
-- One row per SNS MessageId handled to the end; SNS delivers at least once, and a repeat finds
-- its row here. The alarm key (alarm + state + StateChangeTime) catches the same state change
-- arriving under another MessageId (two topics, a re-publish).
CREATE TABLE sns_messages (
  message_id   text PRIMARY KEY,
  type         text NOT NULL,
  topic_arn    text NOT NULL,
  alarm_key    text,
  outcome      text NOT NULL,
  run_ids      jsonb NOT NULL DEFAULT '[]'::jsonb,
  received_at  timestamptz NOT NULL
);
CREATE INDEX sns_messages_by_alarm_key ON sns_messages (alarm_key) WHERE alarm_key IS NOT NULL;
`,
};
