import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service';
import { SnsAdapter } from '../../aws/sns.adapter';
import { Clock } from '../../common/clock';
import { CodedError } from '../../common/coded-error';
import { redactText } from '../../common/redact';
import { unstorableTextPath } from '../../common/storable-text';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { type AcceptedAlso, RunAcceptanceService } from '../../engine/run-acceptance.service';
import type { AuditEventInput } from '../../audit/audit.types';
import { Database } from '../../persistence/database';
import { SnsMessagesRepository, type SnsMessageRecord } from '../../persistence/sns-messages.repository';
import { RunbookError } from '../../runbooks/runbook.error';
import { AlarmConfirmationService } from './alarm-confirmation.service';
import { AlarmEvent, alarmChangeKey, alarmScope, parseAlarmEvent } from './alarm-event';
import { AlarmRouter } from './alarm-router.service';
import { parseSnsMessage, SnsMessage } from './sns-message';
import { checkSigningCertUrl, SnsSignatureVerifier } from './sns-signature.verifier';
import { SnsError } from './sns.error';
import { SnsRefusalSampler } from './sns-refusal-sampler.service';

/** A message may be a little ahead of our clock; more than this is as suspicious as an old one. */
const FUTURE_SKEW_MS = 5 * 60_000;

/** 'stopped': everything was stopped (stop-all), so no run started; the message is recorded with that outcome. */
export type RouteOutcome = 'accepted' | 'duplicate' | 'already-handled' | 'parameters-invalid' | 'stopped';

export interface RouteResult {
  runbookId: string;
  outcome: RouteOutcome;
  runId: string | null;
  message?: string;
}

export interface SnsWebhookResult {
  type: SnsMessage['Type'];
  messageId: string;
  outcome: 'accepted' | 'duplicate' | 'parameters-invalid' | 'stopped' | 'no-match' | 'not-an-alarm' | 'subscription-confirmed' | 'unsubscribe-noted';
  runs: RouteResult[];
}

/**
 * POST /v1/webhooks/sns, without HTTP: check the envelope, the cert URL (before any fetch), the
 * topic, the age and the signature; then confirm a subscription or route an alarm to runbooks.
 * Every message is audited with what became of it. A run is accepted (committed) before the
 * caller answers 200, and a repeat — same MessageId, or same alarm state change — starts nothing.
 */
@Injectable()
export class SnsWebhookService {
  private readonly logger = new Logger('SnsWebhook');

  constructor(
    private readonly verifier: SnsSignatureVerifier,
    private readonly router: AlarmRouter,
    private readonly confirmation: AlarmConfirmationService,
    private readonly refusals: SnsRefusalSampler,
    private readonly acceptance: RunAcceptanceService,
    private readonly db: Database,
    private readonly messages: SnsMessagesRepository,
    private readonly sns: SnsAdapter,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async receive(body: unknown, headers: Record<string, string | string[] | undefined>, source = 'unknown'): Promise<SnsWebhookResult> {
    const receivedAt = this.clock.now();
    let m: SnsMessage | null = null;
    try {
      m = parseSnsMessage(body, headers);
      checkSigningCertUrl(m.SigningCertURL);
      if (!this.router.acceptsTopic(m.TopicArn)) {
        throw new SnsError('SNS_TOPIC_NOT_ACCEPTED', `topic ${m.TopicArn} is named by no runbook alarm trigger and not in RUNBOOKD_SNS_TOPICS`, { topicArn: m.TopicArn });
      }
      const age = receivedAt.getTime() - Date.parse(m.Timestamp);
      if (age > this.config.sns.maxMessageAgeSeconds * 1000 || age < -FUTURE_SKEW_MS) {
        throw new SnsError('SNS_MESSAGE_STALE', `message timestamp ${m.Timestamp} is outside the ${this.config.sns.maxMessageAgeSeconds}s freshness window`, { timestamp: m.Timestamp });
      }
      await this.verifier.verify(m);
    } catch (err) {
      // Not yet proven to come from SNS: counted and sampled, never one locked audit append per post.
      if (err instanceof SnsError) {
        await this.refusals.refused(source, err.code, clip({ code: err.code, reason: err.message, type: m?.Type ?? null, messageId: m?.MessageId ?? null, topicArn: m?.TopicArn ?? null }) as Record<string, unknown>);
      }
      throw err;
    }

    switch (m.Type) {
      case 'SubscriptionConfirmation':
        return this.confirm(m);
      case 'UnsubscribeConfirmation':
        // Someone unsubscribed this endpoint; re-subscribing is a person's decision, so it is only noted.
        await this.record(m, 'unsubscribe-noted', {});
        return { type: m.Type, messageId: m.MessageId, outcome: 'unsubscribe-noted', runs: [] };
      case 'Notification':
        return this.notification(m, receivedAt);
    }
  }

  private async confirm(m: SnsMessage): Promise<SnsWebhookResult> {
    const region = m.TopicArn.split(':')[3];
    const { subscriptionArn } = await this.sns.confirmSubscription(
      { runId: '', runbookId: '', stepId: 'sns-webhook', actor: `sns:${m.TopicArn}`, dryRun: false, expiresAt: this.clock.now() },
      region,
      { topicArn: m.TopicArn, token: m.Token! },
    );
    await this.record(m, 'subscription-confirmed', { subscriptionArn });
    this.logger.log(`confirmed the subscription to ${m.TopicArn}`);
    return { type: m.Type, messageId: m.MessageId, outcome: 'subscription-confirmed', runs: [] };
  }

  /**
   * Every message past the signature check leaves a record, whatever fails after it (a refused
   * preflight or target, AWS throttling, the database): the paths that record their own outcome
   * mark the error, anything else is recorded here as `failed` before it is answered.
   */
  private async notification(m: SnsMessage, receivedAt: Date): Promise<SnsWebhookResult> {
    try {
      return await this.handleNotification(m, receivedAt);
    } catch (err) {
      if (!recorded.has(err as object)) {
        const code = err instanceof CodedError ? err.code : 'INTERNAL';
        const reason = err instanceof CodedError ? err.message : 'internal error; see the service log';
        await this.record(m, 'failed', { code, reason }).catch((auditErr) =>
          // The database itself is away: the log is the record of last resort.
          this.logger.error(`alarm message ${m.MessageId} on ${m.TopicArn} failed (${code}) and could not be audited: ${redactText((auditErr as Error).message)}`),
        );
      }
      throw err;
    }
  }

  private async handleNotification(m: SnsMessage, receivedAt: Date): Promise<SnsWebhookResult> {
    const seen = await this.messages.get(m.MessageId);
    if (seen) {
      await this.record(m, 'duplicate', { firstReceivedAt: seen.receivedAt.toISOString(), firstOutcome: seen.outcome, runIds: seen.runIds });
      return {
        type: m.Type, messageId: m.MessageId, outcome: 'duplicate',
        runs: seen.runIds.map((runId) => ({ runbookId: '', outcome: 'duplicate', runId })),
      };
    }
    const claimed = parseAlarmEvent(m.Message, m.TopicArn);
    if (!claimed) {
      await this.remember(m, null, 'not-an-alarm', [], receivedAt, {});
      return { type: m.Type, messageId: m.MessageId, outcome: 'not-an-alarm', runs: [] };
    }
    const unstorable = unstorableTextPath(claimed);
    if (unstorable) {
      // Signed, so recorded; but PostgreSQL cannot store the field, and a 500 would be retried forever.
      const err = new SnsError('SNS_MESSAGE_INVALID', `the alarm's ${unstorable} holds a NUL character or a lone surrogate`, { field: `alarm.${unstorable}` });
      await this.remember(m, null, 'rejected', [], receivedAt, { code: err.code, reason: err.message });
      throw markRecorded(err);
    }
    const extra = { topicArn: m.TopicArn, messageId: m.MessageId, receivedAt: receivedAt.toISOString() };
    // Only an alarm some runbook may act on costs a CloudWatch call; from here on the alarm is CloudWatch's, not the message's.
    const alarm = this.router.mayRoute(claimed, m.TopicArn) ? await this.confirmed(m, claimed, receivedAt) : claimed;
    const routes = this.router.route(alarm, m.TopicArn, alarmScope(alarm, extra));
    const key = alarmChangeKey(alarm);
    const summary = (results: RouteResult[]) => ({
      alarm: { name: alarm.name, state: alarm.state, stateChangeTime: alarm.stateChangeTime, region: alarm.region }, alarmKey: key, runs: results,
    });
    if (routes.length === 1) {
      // The usual case, one runbook: the message's record commits with the run it started.
      const [route] = routes;
      const result = await this.start(route.runbookId, route.parameters, m, alarm, key, (runId) => {
        const accepted: RouteResult = { runbookId: route.runbookId, outcome: 'accepted', runId };
        return this.messageRecords(m, key, 'accepted', [runId], receivedAt, summary([accepted]));
      });
      const outcome = overall([result]);
      if (result.outcome !== 'accepted') await this.remember(m, key, outcome, result.runId ? [result.runId] : [], receivedAt, summary([result]));
      return { type: m.Type, messageId: m.MessageId, outcome, runs: [result] };
    }
    const results: RouteResult[] = [];
    for (const route of routes) results.push(await this.start(route.runbookId, route.parameters, m, alarm, key));

    const outcome = routes.length === 0 ? 'no-match' : overall(results);
    const runIds = results.map((r) => r.runId).filter((id): id is string => id !== null);
    await this.remember(m, key, outcome, runIds, receivedAt, summary(results));
    return { type: m.Type, messageId: m.MessageId, outcome, runs: results };
  }

  /**
   * The alarm as CloudWatch confirms it. A refusal is recorded with the message (a redelivery is
   * then a duplicate); CloudWatch being away is only audited, so SNS's redelivery is looked at afresh.
   */
  private async confirmed(m: SnsMessage, claimed: AlarmEvent, receivedAt: Date): Promise<AlarmEvent> {
    try {
      return await this.confirmation.confirm(claimed);
    } catch (err) {
      if (!(err instanceof SnsError)) throw err;
      const data = {
        alarm: { name: claimed.name, state: claimed.state, stateChangeTime: claimed.stateChangeTime, region: claimed.region, accountId: claimed.accountId },
        code: err.code, reason: err.message,
      };
      if (err.code === 'SNS_ALARM_NOT_CONFIRMED') {
        this.logger.warn(`refused a signed alarm message ${m.MessageId} on ${m.TopicArn}: ${err.message}`);
        await this.remember(m, null, 'alarm-not-confirmed', [], receivedAt, data);
      } else {
        await this.record(m, 'alarm-source-unavailable', data);
      }
      throw markRecorded(err);
    }
  }

  private async start(
    runbookId: string,
    parameters: Record<string, unknown>,
    m: SnsMessage,
    alarm: AlarmEvent,
    key: string,
    also?: (runId: string) => AcceptedAlso,
  ): Promise<RouteResult> {
    try {
      const { run, created } = await this.acceptance.accept({
        runbookId,
        parameters,
        dryRun: false,
        reason: `alarm ${alarm.name} went ${alarm.state} at ${alarm.stateChangeTime}`,
        trigger: {
          kind: 'alarm', actor: `alarm:${alarm.name}`, topicArn: m.TopicArn, messageId: m.MessageId,
          alarmName: alarm.name, alarmArn: alarm.arn, state: alarm.state, stateChangeTime: alarm.stateChangeTime,
        },
        // Per runbook, so one alarm may start several runbooks, each once.
        dedupeKey: `sns-alarm:${runbookId}:${createHash('sha256').update(key).digest('hex')}`,
        also,
      });
      return { runbookId, outcome: created ? 'accepted' : 'duplicate', runId: run.id };
    } catch (err) {
      if (err instanceof EngineError && err.code === 'CONCURRENCY_CONFLICT') {
        // Another alarm about the same subject already started the same runbook: that run handles this one too.
        const holder = (err.details.holder as { runId?: string } | undefined)?.runId ?? null;
        return { runbookId, outcome: 'already-handled', runId: holder, message: err.message };
      }
      if (err instanceof EngineError && err.code === 'STOPPED') {
        // Refused, not failed: SNS retrying would only be refused again, so the message is
        // answered 200 and recorded with the refusal (who stopped everything and why).
        this.logger.warn(`alarm ${alarm.name} matched ${runbookId}, refused: ${err.message}`);
        return { runbookId, outcome: 'stopped', runId: null, message: err.message };
      }
      if (err instanceof RunbookError && err.code === 'PARAMETERS_INVALID') {
        // The runbook's trigger maps this alarm to parameters it refuses: a definition problem SNS retries cannot fix.
        this.logger.warn(`alarm ${alarm.name} matched ${runbookId} but ${err.message}`);
        return { runbookId, outcome: 'parameters-invalid', runId: null, message: err.message };
      }
      throw err;
    }
  }

  /** The message's row and its audit record commit together: one commit, and neither without the other. */
  private async remember(m: SnsMessage, alarmKey: string | null, outcome: string, runIds: string[], receivedAt: Date, audit: Record<string, unknown>): Promise<void> {
    const { snsMessage, events } = this.messageRecords(m, alarmKey, outcome, runIds, receivedAt, audit);
    await this.db.transaction(async (tx) => {
      await this.messages.record(snsMessage, tx);
      await this.audit.appendMany(events, tx);
    });
  }

  private messageRecords(m: SnsMessage, alarmKey: string | null, outcome: string, runIds: string[], receivedAt: Date, audit: Record<string, unknown>): { snsMessage: SnsMessageRecord; events: AuditEventInput[] } {
    return {
      snsMessage: { messageId: m.MessageId, type: m.Type, topicArn: m.TopicArn, alarmKey, outcome, runIds, receivedAt },
      events: [this.receivedEvent(m, outcome, audit)],
    };
  }

  private async record(m: SnsMessage | null, outcome: string, extra: Record<string, unknown>): Promise<void> {
    await this.audit.append(this.receivedEvent(m, outcome, extra));
  }

  /** One audit record per message received; what a sender controls is clipped so it cannot bloat or break the log. */
  private receivedEvent(m: SnsMessage | null, outcome: string, extra: Record<string, unknown>): AuditEventInput {
    const verified = outcome !== 'rejected';
    return {
      kind: 'sns.received',
      runId: null,
      actor: verified && m ? `sns:${m.TopicArn}` : 'sns:unverified',
      data: clip({ outcome, type: m?.Type ?? null, messageId: m?.MessageId ?? null, topicArn: m?.TopicArn ?? null, timestamp: m?.Timestamp ?? null, ...extra }) as Record<string, unknown>,
    };
  }
}

/** Errors whose message already has its record (a second one would say the same thing twice). */
const recorded = new WeakSet<object>();

function markRecorded<E extends object>(err: E): E {
  recorded.add(err);
  return err;
}

/** Accepted if any run started; a duplicate if every runbook already had its run; stopped if stop-all refused one; else the parameters were refused. */
function overall(results: RouteResult[]): 'accepted' | 'duplicate' | 'parameters-invalid' | 'stopped' {
  if (results.some((r) => r.outcome === 'accepted')) return 'accepted';
  if (results.every((r) => r.outcome === 'duplicate' || r.outcome === 'already-handled')) return 'duplicate';
  if (results.some((r) => r.outcome === 'stopped')) return 'stopped';
  return 'parameters-invalid';
}

function clip(v: unknown): unknown {
  if (typeof v === 'string') {
    // PostgreSQL's jsonb refuses \u0000; other control characters are kept escaped by JSON.
    const s = v.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  }
  if (Array.isArray(v)) return v.slice(0, 20).map(clip);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clip(x)]));
  return v;
}
