import { WebhookError } from '../webhook.error';

/** The fields runbookd reads of an EventBridge event before the alarm handling parses the rest. */
export interface EventBridgeAlarmEnvelope {
  id: string;
  time: string;
  account: string;
  region: string;
}

/**
 * Checks that a posted body is a CloudWatch "Alarm State Change" event (the only kind this
 * endpoint takes): a rule that forwards anything else is a setup mistake, answered 400 naming it.
 */
export function checkEventBridgeAlarmEvent(body: unknown): EventBridgeAlarmEnvelope {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a JSON object (an EventBridge event)');
  const e = body as Record<string, unknown>;
  if (typeof e.id !== 'string' || !/^[A-Za-z0-9-]{1,128}$/.test(e.id)) throw invalid('id must be the event id (letters, digits and -, at most 128)', 'id');
  if (e.source !== 'aws.cloudwatch') throw invalid('source must be aws.cloudwatch (the rule should match CloudWatch alarm events only)', 'source');
  if (e['detail-type'] !== 'CloudWatch Alarm State Change') throw invalid('detail-type must be "CloudWatch Alarm State Change"', 'detail-type');
  if (typeof e.account !== 'string' || !/^\d{12}$/.test(e.account)) throw invalid('account must be a 12-digit account id', 'account');
  if (typeof e.region !== 'string' || !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(e.region)) throw invalid('region must be a region code', 'region');
  if (typeof e.time !== 'string' || Number.isNaN(Date.parse(e.time))) throw invalid('time must be an ISO 8601 time', 'time');
  const d = e.detail;
  if (d === null || typeof d !== 'object' || Array.isArray(d)) throw invalid('detail must be an object', 'detail');
  const detail = d as Record<string, unknown>;
  if (typeof detail.alarmName !== 'string' || detail.alarmName.length === 0 || detail.alarmName.length > 255)
    throw invalid('detail.alarmName must be an alarm name', 'detail.alarmName');
  const state = detail.state as Record<string, unknown> | undefined;
  if (!state || typeof state !== 'object' || typeof state.value !== 'string') throw invalid('detail.state.value must be the new state', 'detail.state.value');
  return { id: e.id, time: e.time, account: e.account, region: e.region };
}

function invalid(message: string, field?: string): WebhookError {
  return new WebhookError('WEBHOOK_EVENT_INVALID', `not a CloudWatch alarm event: ${message}`, field ? { field } : {});
}
