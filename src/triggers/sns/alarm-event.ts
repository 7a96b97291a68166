import { jsonTextDepth, MAX_JSON_DEPTH } from '../../common/json-depth';

/**
 * A CloudWatch alarm state change, from either shape SNS carries: the CloudWatch alarm action's
 * own JSON, or an EventBridge "CloudWatch Alarm State Change" event. What runbook triggers match
 * on and what `${{ alarm.* }}` expressions read.
 */
export interface AlarmEvent {
  name: string;
  arn: string | null;
  state: string;
  previousState: string | null;
  /** ISO 8601 (UTC). */
  stateChangeTime: string;
  reason: string | null;
  description: string | null;
  /** A region code (eu-west-1), whatever the message said (CloudWatch writes a display name). */
  region: string | null;
  accountId: string | null;
  dimensions: Record<string, string>;
  source: 'cloudwatch' | 'eventbridge';
}

/** Null when the message is not an alarm state change (any other notification on the topic). */
export function parseAlarmEvent(message: string, topicArn: string): AlarmEvent | null {
  let v: unknown;
  // Signed by AWS, but walked and stored after this: a message nested past the limit is no alarm.
  if (jsonTextDepth(message) > MAX_JSON_DEPTH) return null;
  try {
    v = JSON.parse(message);
  } catch {
    return null;
  }
  if (!isRecord(v)) return null;
  const topic = arnParts(topicArn);
  if (v['detail-type'] === 'CloudWatch Alarm State Change' && isRecord(v.detail)) return fromEventBridge(v, topic);
  if (typeof v.AlarmName === 'string' && typeof v.NewStateValue === 'string') return fromCloudWatch(v, topic);
  return null;
}

function fromCloudWatch(v: Record<string, unknown>, topic: ArnParts | null): AlarmEvent | null {
  const changed = isoTime(v.StateChangeTime);
  if (!changed) return null;
  const arn = str(v.AlarmArn);
  const fromArn = arn ? arnParts(arn) : null;
  const dimensions: Record<string, string> = {};
  const trigger = isRecord(v.Trigger) ? v.Trigger : {};
  const addDims = (list: unknown) => {
    if (Array.isArray(list)) {
      // CloudWatch writes {name, value} in lower case; accept the API's {Name, Value} too.
      for (const d of list)
        if (isRecord(d)) {
          const n = str(d.name) ?? str(d.Name);
          const val = str(d.value) ?? str(d.Value);
          if (n && val !== null && !(n in dimensions)) dimensions[n] = val;
        }
    }
  };
  addDims(trigger.Dimensions);
  // Metric-math alarms: the dimensions live on each metric of the expression.
  if (Array.isArray(trigger.Metrics)) {
    for (const m of trigger.Metrics) {
      if (isRecord(m) && isRecord(m.MetricStat) && isRecord(m.MetricStat.Metric)) addDims(m.MetricStat.Metric.Dimensions);
    }
  }
  return {
    name: v.AlarmName as string,
    arn,
    state: v.NewStateValue as string,
    previousState: str(v.OldStateValue),
    stateChangeTime: changed,
    reason: str(v.NewStateReason),
    description: str(v.AlarmDescription),
    region: fromArn?.region ?? regionCode(str(v.Region)) ?? topic?.region ?? null,
    accountId: str(v.AWSAccountId) ?? fromArn?.account ?? topic?.account ?? null,
    dimensions,
    source: 'cloudwatch',
  };
}

function fromEventBridge(v: Record<string, unknown>, topic: ArnParts | null): AlarmEvent | null {
  const d = v.detail as Record<string, unknown>;
  const state = isRecord(d.state) ? d.state : {};
  const previous = isRecord(d.previousState) ? d.previousState : {};
  const name = str(d.alarmName);
  const value = str(state.value);
  const changed = isoTime(state.timestamp) ?? isoTime(v.time);
  if (!name || !value || !changed) return null;
  const dimensions: Record<string, string> = {};
  const config = isRecord(d.configuration) ? d.configuration : {};
  for (const m of Array.isArray(config.metrics) ? config.metrics : []) {
    const dims = isRecord(m) && isRecord(m.metricStat) && isRecord(m.metricStat.metric) ? m.metricStat.metric.dimensions : null;
    if (isRecord(dims)) for (const [k, val] of Object.entries(dims)) if (typeof val === 'string' && !(k in dimensions)) dimensions[k] = val;
  }
  const resources = Array.isArray(v.resources) ? v.resources.filter((r): r is string => typeof r === 'string') : [];
  return {
    name,
    arn: resources.find((r) => r.includes(':alarm:')) ?? null,
    state: value,
    previousState: str(previous.value),
    stateChangeTime: changed,
    reason: str(state.reason),
    description: str(config.description),
    region: str(v.region) ?? topic?.region ?? null,
    accountId: str(v.account) ?? topic?.account ?? null,
    dimensions,
    source: 'eventbridge',
  };
}

/** Identifies one state change of one alarm, whichever topic or MessageId brought it. */
export function alarmChangeKey(a: AlarmEvent): string {
  const id = a.arn ?? `${a.accountId ?? '?'}:${a.region ?? '?'}:${a.name}`;
  return `${id}|${a.state}|${a.stateChangeTime}`;
}

/** The `${{ alarm.* }}` scope (fields: ALARM_EXPRESSION_FIELDS). */
export function alarmScope(a: AlarmEvent, extra: { topicArn: string; messageId: string; receivedAt: string }): Record<string, unknown> {
  return {
    name: a.name,
    arn: a.arn,
    state: a.state,
    previousState: a.previousState,
    stateChangeTime: a.stateChangeTime,
    reason: a.reason,
    description: a.description,
    region: a.region,
    accountId: a.accountId,
    dimensions: a.dimensions,
    topicArn: extra.topicArn,
    messageId: extra.messageId,
    receivedAt: extra.receivedAt,
  };
}

interface ArnParts {
  region: string;
  account: string;
}

function arnParts(arn: string): ArnParts | null {
  const p = arn.split(':');
  return p.length >= 6 && p[0] === 'arn' && p[3] && p[4] ? { region: p[3], account: p[4] } : null;
}

/** CloudWatch's `+0000` offsets are not ISO 8601 to Date.parse everywhere; normalise to UTC ISO. */
function isoTime(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function isRecord(v: unknown): v is Record<string, any> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** CloudWatch's alarm message names the region for people ("EU (Ireland)"). */
const REGION_NAMES: Record<string, string> = {
  'US East (N. Virginia)': 'us-east-1',
  'US East (Ohio)': 'us-east-2',
  'US West (N. California)': 'us-west-1',
  'US West (Oregon)': 'us-west-2',
  'Africa (Cape Town)': 'af-south-1',
  'Asia Pacific (Hong Kong)': 'ap-east-1',
  'Asia Pacific (Mumbai)': 'ap-south-1',
  'Asia Pacific (Hyderabad)': 'ap-south-2',
  'Asia Pacific (Tokyo)': 'ap-northeast-1',
  'Asia Pacific (Seoul)': 'ap-northeast-2',
  'Asia Pacific (Osaka)': 'ap-northeast-3',
  'Asia Pacific (Singapore)': 'ap-southeast-1',
  'Asia Pacific (Sydney)': 'ap-southeast-2',
  'Asia Pacific (Jakarta)': 'ap-southeast-3',
  'Asia Pacific (Melbourne)': 'ap-southeast-4',
  'Canada (Central)': 'ca-central-1',
  'Europe (Frankfurt)': 'eu-central-1',
  'EU (Frankfurt)': 'eu-central-1',
  'Europe (Zurich)': 'eu-central-2',
  'Europe (Ireland)': 'eu-west-1',
  'EU (Ireland)': 'eu-west-1',
  'Europe (London)': 'eu-west-2',
  'EU (London)': 'eu-west-2',
  'Europe (Paris)': 'eu-west-3',
  'EU (Paris)': 'eu-west-3',
  'Europe (Milan)': 'eu-south-1',
  'Europe (Spain)': 'eu-south-2',
  'Europe (Stockholm)': 'eu-north-1',
  'EU (Stockholm)': 'eu-north-1',
  'Middle East (Bahrain)': 'me-south-1',
  'Middle East (UAE)': 'me-central-1',
  'South America (Sao Paulo)': 'sa-east-1',
  'South America (São Paulo)': 'sa-east-1',
  'AWS GovCloud (US-West)': 'us-gov-west-1',
  'AWS GovCloud (US-East)': 'us-gov-east-1',
  'China (Beijing)': 'cn-north-1',
  'China (Ningxia)': 'cn-northwest-1',
};

function regionCode(name: string | null): string | null {
  if (!name) return null;
  if (/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(name)) return name;
  return REGION_NAMES[name] ?? null;
}
