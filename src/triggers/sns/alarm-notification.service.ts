import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { CodedError } from '../../common/coded-error';
import { redactText } from '../../common/redact';
import { unstorableTextPath } from '../../common/storable-text';
import { EngineError } from '../../engine/engine.error';
import { type AcceptedAlso, RunAcceptanceService } from '../../engine/run-acceptance.service';
import { SnsMessagesRepository } from '../../persistence/sns-messages.repository';
import { RunbookError } from '../../runbooks/runbook.error';
import { AlarmConfirmationService } from './alarm-confirmation.service';
import { AlarmEvent, alarmChangeKey, alarmScope, parseAlarmEvent } from './alarm-event';
import { AlarmRouter } from './alarm-router.service';
import { type AlarmDelivery } from './alarm-delivery';
import type { SnsMessage } from './sns-message';
import { SnsMessageRecorder } from './sns-message-recorder.service';
import { SnsError } from './sns.error';

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
 * A signed Notification: a repeat (same MessageId) starts nothing; an alarm some runbook may act
 * on is confirmed with CloudWatch, routed, and each matching runbook's run accepted (committed)
 * before the caller answers, deduplicated per runbook and alarm state change.
 */
@Injectable()
export class AlarmNotificationService {
  private readonly logger = new Logger('SnsWebhook');

  constructor(
    private readonly router: AlarmRouter,
    private readonly confirmation: AlarmConfirmationService,
    private readonly acceptance: RunAcceptanceService,
    private readonly messages: SnsMessagesRepository,
    private readonly recorder: SnsMessageRecorder,
  ) {}

  /**
   * Every message past the signature check leaves a record, whatever fails after it (a refused
   * preflight or target, AWS throttling, the database): the paths that record their own outcome
   * mark the error, anything else is recorded here as `failed` before it is answered.
   */
  async handle(m: AlarmDelivery, receivedAt: Date): Promise<SnsWebhookResult> {
    try {
      return await this.handleNotification(m, receivedAt);
    } catch (err) {
      if (!recorded.has(err as object)) {
        const code = err instanceof CodedError ? err.code : 'INTERNAL';
        const reason = err instanceof CodedError ? err.message : 'internal error; see the service log';
        await this.recorder.record(m, 'failed', { code, reason }).catch((auditErr) =>
          // The database itself is away: the log is the record of last resort.
          this.logger.error(
            `alarm message ${m.MessageId} on ${m.TopicArn} failed (${code}) and could not be audited: ${redactText((auditErr as Error).message)}`,
          ),
        );
      }
      throw err;
    }
  }

  private async handleNotification(m: AlarmDelivery, receivedAt: Date): Promise<SnsWebhookResult> {
    const seen = await this.messages.get(m.MessageId);
    if (seen) {
      await this.recorder.record(m, 'duplicate', { firstReceivedAt: seen.receivedAt.toISOString(), firstOutcome: seen.outcome, runIds: seen.runIds });
      return {
        type: m.Type,
        messageId: m.MessageId,
        outcome: 'duplicate',
        runs: seen.runIds.map((runId) => ({ runbookId: '', outcome: 'duplicate', runId })),
      };
    }
    const claimed = parseAlarmEvent(m.Message, m.TopicArn);
    if (!claimed) {
      await this.recorder.remember(m, null, 'not-an-alarm', [], receivedAt, {});
      return { type: m.Type, messageId: m.MessageId, outcome: 'not-an-alarm', runs: [] };
    }
    const unstorable = unstorableTextPath(claimed);
    if (unstorable) {
      // Signed, so recorded; but PostgreSQL cannot store the field, and a 500 would be retried forever.
      const err = new SnsError('SNS_MESSAGE_INVALID', `the alarm's ${unstorable} holds a NUL character or a lone surrogate`, { field: `alarm.${unstorable}` });
      await this.recorder.remember(m, null, 'rejected', [], receivedAt, { code: err.code, reason: err.message });
      throw markRecorded(err);
    }
    const extra = { topicArn: m.TopicArn, messageId: m.MessageId, receivedAt: receivedAt.toISOString() };
    // Only an alarm some runbook may act on costs a CloudWatch call; from here on the alarm is CloudWatch's, not the message's.
    const alarm = this.router.mayRoute(claimed, m.TopicArn) ? await this.confirmed(m, claimed, receivedAt) : claimed;
    const routes = this.router.route(alarm, m.TopicArn, alarmScope(alarm, extra));
    const key = alarmChangeKey(alarm);
    const summary = (results: RouteResult[]) => ({
      alarm: { name: alarm.name, state: alarm.state, stateChangeTime: alarm.stateChangeTime, region: alarm.region },
      alarmKey: key,
      runs: results,
    });
    if (routes.length === 1) {
      // The usual case, one runbook: the message's record commits with the run it started.
      const [route] = routes;
      const result = await this.start(route.runbookId, route.parameters, m, alarm, key, (runId) => {
        const accepted: RouteResult = { runbookId: route.runbookId, outcome: 'accepted', runId };
        return this.recorder.messageRecords(m, key, 'accepted', [runId], receivedAt, summary([accepted]));
      });
      const outcome = overall([result]);
      if (result.outcome !== 'accepted') await this.recorder.remember(m, key, outcome, result.runId ? [result.runId] : [], receivedAt, summary([result]));
      return { type: m.Type, messageId: m.MessageId, outcome, runs: [result] };
    }
    const results: RouteResult[] = [];
    for (const route of routes) results.push(await this.start(route.runbookId, route.parameters, m, alarm, key));

    const outcome = routes.length === 0 ? 'no-match' : overall(results);
    const runIds = results.map((r) => r.runId).filter((id): id is string => id !== null);
    await this.recorder.remember(m, key, outcome, runIds, receivedAt, summary(results));
    return { type: m.Type, messageId: m.MessageId, outcome, runs: results };
  }

  /**
   * The alarm as CloudWatch confirms it. A refusal is recorded with the message (a redelivery is
   * then a duplicate); CloudWatch being away is only audited, so SNS's redelivery is looked at afresh.
   */
  private async confirmed(m: AlarmDelivery, claimed: AlarmEvent, receivedAt: Date): Promise<AlarmEvent> {
    try {
      return await this.confirmation.confirm(claimed);
    } catch (err) {
      if (!(err instanceof SnsError)) throw err;
      const data = {
        alarm: { name: claimed.name, state: claimed.state, stateChangeTime: claimed.stateChangeTime, region: claimed.region, accountId: claimed.accountId },
        code: err.code,
        reason: err.message,
      };
      if (err.code === 'SNS_ALARM_NOT_CONFIRMED') {
        this.logger.warn(
          `refused ${m.via === 'eventbridge' ? 'an EventBridge alarm event' : 'a signed alarm message'} ${m.MessageId} on ${m.TopicArn}: ${err.message}`,
        );
        await this.recorder.remember(m, null, 'alarm-not-confirmed', [], receivedAt, data);
      } else {
        await this.recorder.record(m, 'alarm-source-unavailable', data);
      }
      throw markRecorded(err);
    }
  }

  private async start(
    runbookId: string,
    parameters: Record<string, unknown>,
    m: AlarmDelivery,
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
          kind: 'alarm',
          actor: `alarm:${alarm.name}`,
          topicArn: m.TopicArn,
          messageId: m.MessageId,
          ...(m.via === 'eventbridge' ? { via: 'eventbridge' } : {}),
          alarmName: alarm.name,
          alarmArn: alarm.arn,
          state: alarm.state,
          stateChangeTime: alarm.stateChangeTime,
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
