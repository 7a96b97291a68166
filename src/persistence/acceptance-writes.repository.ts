import { Injectable } from '@nestjs/common';
import type { RunRecord, StepResultRecord } from '../model/run.types';
import { AuditRowSigner, type AuditRowInput, storedAuditRows } from './audit-rows';
import { Database } from './database';
import { insertAuditRowsSql, stepRow, upsertStepRowsSql } from './step-rows';
import { NewRun, RunsRepository } from './runs.repository';
import type { SnsMessageRecord } from './sns-messages.repository';

/** A new run and everything that commits with it: its audit records, preflight steps, the trigger's own record. */
export interface AcceptanceWrite {
  run: NewRun;
  /** Written only if the run is (run.accepted, and the trigger's record of it). */
  events: readonly AuditRowInput[];
  steps: readonly StepResultRecord[];
  snsMessage?: SnsMessageRecord;
}

/**
 * New runs from many triggers at once, in one statement and one commit. A run that collides with
 * a unique key (its dedupe key seen, its concurrency key held) is simply not inserted, and none of
 * what commits with it is either: the caller learns which (`null`) and takes the slow path that
 * says why.
 */
@Injectable()
export class AcceptanceWritesRepository {
  constructor(
    private readonly db: Database,
    private readonly mac: AuditRowSigner,
  ) {}

  async write(items: readonly AcceptanceWrite[], at: Date): Promise<(RunRecord | null)[]> {
    const runs = items.map(({ run: r }, ord) => ({
      id: r.id,
      runbook_id: r.runbookId,
      runbook_digest: r.runbookDigest,
      definition: r.definition,
      parameters: r.parameters,
      dry_run: r.dryRun,
      reason: r.reason,
      trigger: r.trigger,
      actor: r.actor,
      dedupe_key: r.dedupeKey,
      request_hash: r.requestHash,
      concurrency_key: r.concurrencyKey,
      expires_at: r.expiresAt.toISOString(),
      parent_run_id: r.parentRunId ?? null,
      ord,
    }));
    const steps = items.flatMap((i) => i.steps.map(stepRow));
    const messages = items.flatMap((i) =>
      i.snsMessage
        ? [
            {
              owner: i.run.id,
              message_id: i.snsMessage.messageId,
              type: i.snsMessage.type,
              topic_arn: i.snsMessage.topicArn,
              alarm_key: i.snsMessage.alarmKey,
              outcome: i.snsMessage.outcome,
              run_ids: i.snsMessage.runIds,
              received_at: i.snsMessage.receivedAt.toISOString(),
            },
          ]
        : [],
    );
    // `owner`: the run a record stands or falls with (an sns.received record has no run id of its own).
    const owners = items.flatMap((i) => i.events.map(() => i.run.id));
    const events = storedAuditRows(
      items.flatMap((i) => i.events),
      at,
      this.mac,
    ).map((e, ord) => ({ ...e, owner: owners[ord], ord }));
    const rows = await this.db.query<Record<string, unknown>>(
      `WITH ins AS (
         INSERT INTO runs (id, runbook_id, runbook_digest, definition, parameters, dry_run, reason, trigger, actor,
           dedupe_key, request_hash, concurrency_key, state, expires_at, parent_run_id)
         SELECT r.id, r.runbook_id, r.runbook_digest, r.definition, r.parameters, r.dry_run, r.reason, r.trigger, r.actor,
                r.dedupe_key, r.request_hash, r.concurrency_key, 'queued', r.expires_at, r.parent_run_id
           FROM jsonb_to_recordset($1::jsonb) AS r(id text, runbook_id text, runbook_digest text, definition jsonb, parameters jsonb,
                dry_run boolean, reason text, trigger jsonb, actor text, dedupe_key text, request_hash text, concurrency_key text,
                expires_at timestamptz, parent_run_id text, ord int)
          ORDER BY r.ord
         ON CONFLICT DO NOTHING
         RETURNING *
       ),
       steps AS (
         ${upsertStepRowsSql('$2', 'SELECT id FROM ins')}
       ),
       messages AS (
         INSERT INTO sns_messages (message_id, type, topic_arn, alarm_key, outcome, run_ids, received_at)
         SELECT m.message_id, m.type, m.topic_arn, m.alarm_key, m.outcome, m.run_ids, m.received_at
           FROM jsonb_to_recordset($3::jsonb) AS m(owner text, message_id text, type text, topic_arn text, alarm_key text, outcome text,
                run_ids jsonb, received_at timestamptz)
          WHERE m.owner IN (SELECT id FROM ins)
         ON CONFLICT (message_id) DO NOTHING
       ),
       events AS (
         ${insertAuditRowsSql('$4', 'SELECT id FROM ins')}
       )
       SELECT * FROM ins`,
      [JSON.stringify(runs), JSON.stringify(steps), JSON.stringify(messages), JSON.stringify(events)],
    );
    const byId = new Map(rows.map((r) => [String(r.id), RunsRepository.fromRow(r)]));
    return items.map((i) => byId.get(i.run.id) ?? null);
  }
}
