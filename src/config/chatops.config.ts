import type { EnvReader } from './env-reader';
/**
 * Where on-call already is: alarms from EventBridge, incidents from PagerDuty, run threads and
 * approvals in Slack. Read here because src/config is the one place that reads the environment;
 * each source is off until its secret is set, and no secret is ever logged (the config object is
 * never printed, and these fields are named so redaction finds them).
 */
export interface EventBridgeConfig {
  /** The header the EventBridge connection's API-key authorization sends (its name, lower case). */
  apiKeyHeader: string;
  /**
   * Lower-case hex SHA-256 of each key accepted (more than one while a key is rotated): only the
   * hash is configured, so the configuration never holds a usable key.
   */
  apiKeySha256: string[];
}

export interface PagerDutyConfig {
  /** Webhook subscription secrets (v3 signatures); several while a secret is rotated. */
  webhookSecrets: string[];
  /** REST API v2 token for incident notes; unset: no notes are posted. */
  token: string | undefined;
  /** REST API base URL (tests and proxies point it elsewhere). */
  apiUrl: string;
  /** The `From` header incident notes are posted with (a PagerDuty user's e-mail; account tokens need it). */
  fromEmail: string | undefined;
}

export interface SlackConfig {
  botToken: string | undefined;
  signingSecret: string | undefined;
  /** Where run threads go when the runbook names no `notify.slack` channel; unset: only runbooks that name one. */
  defaultChannel: string | undefined;
  /** Slack Web API base URL, ending in a slash (tests and proxies point it elsewhere). */
  apiUrl: string;
  /** Slack user id to runbookd identity (RUNBOOKD_SLACK_USERS=U0123:alice,...); the policy's `slack` ids are added to it. */
  users: Record<string, string>;
  /** Interactions signed longer ago (or ahead) than this are refused. */
  maxSkewSeconds: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const HEADER_NAME = /^[a-z0-9-]{1,64}$/;

export function loadChatOpsConfig(r: EnvReader): { eventbridge: EventBridgeConfig; pagerduty: PagerDutyConfig; slack: SlackConfig } {
  const problems = r.problems;
  const get = (name: string): string | undefined => r.trimmed(name);
  const list = (name: string): string[] =>
    (get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const url = (name: string, fallback: string): string => {
    const v = get(name) ?? fallback;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${name} must be an http(s) URL`);
    } catch {
      problems.push(`${name} is not a URL`);
    }
    return v;
  };

  const apiKeyHeader = (get('RUNBOOKD_EVENTBRIDGE_API_KEY_HEADER') ?? 'x-runbookd-api-key').toLowerCase();
  if (!HEADER_NAME.test(apiKeyHeader)) problems.push('RUNBOOKD_EVENTBRIDGE_API_KEY_HEADER must be an HTTP header name (letters, digits, -)');
  // The Authorization header carries runbookd's own API keys; the connection's key goes in its own header.
  if (apiKeyHeader === 'authorization') problems.push('RUNBOOKD_EVENTBRIDGE_API_KEY_HEADER must not be authorization (runbookd API keys use it)');
  const apiKeySha256 = list('RUNBOOKD_EVENTBRIDGE_API_KEY_SHA256').map((h) => h.toLowerCase());
  for (const h of apiKeySha256)
    if (!SHA256_HEX.test(h)) problems.push('RUNBOOKD_EVENTBRIDGE_API_KEY_SHA256: each item must be the hex SHA-256 of a key (`printf %s "$KEY" | sha256sum`)');

  const webhookSecrets = list('RUNBOOKD_PAGERDUTY_WEBHOOK_SECRETS');
  const fromEmail = get('RUNBOOKD_PAGERDUTY_FROM');
  if (fromEmail && !/^[^@\s]+@[^@\s]+$/.test(fromEmail)) problems.push('RUNBOOKD_PAGERDUTY_FROM must be an e-mail address');

  const users: Record<string, string> = {};
  for (const item of list('RUNBOOKD_SLACK_USERS')) {
    const m = /^([UW][A-Z0-9]{2,30}):([A-Za-z0-9._@-]{1,128})$/.exec(item);
    if (!m) problems.push(`RUNBOOKD_SLACK_USERS: "${item}" is not <Slack user id>:<runbookd name> (U0123ABC:alice)`);
    else users[m[1]] = m[2];
  }
  const defaultChannel = get('RUNBOOKD_SLACK_CHANNEL');
  if (defaultChannel && !/^[#@]?[A-Za-z0-9._-]{1,80}$/.test(defaultChannel))
    problems.push('RUNBOOKD_SLACK_CHANNEL must be a channel name (#ops) or id (C0123)');
  const skew = get('RUNBOOKD_SLACK_MAX_SKEW_SECONDS');
  const maxSkewSeconds = skew === undefined ? 300 : Number(skew);
  if (!Number.isInteger(maxSkewSeconds) || maxSkewSeconds < 1 || maxSkewSeconds > 300)
    problems.push('RUNBOOKD_SLACK_MAX_SKEW_SECONDS must be an integer from 1 to 300');
  const apiUrl = url('RUNBOOKD_SLACK_API_URL', 'https://slack.com/api/');

  return {
    eventbridge: { apiKeyHeader, apiKeySha256 },
    pagerduty: {
      webhookSecrets,
      token: get('RUNBOOKD_PAGERDUTY_TOKEN'),
      apiUrl: url('RUNBOOKD_PAGERDUTY_API_URL', 'https://api.pagerduty.com').replace(/\/+$/, ''),
      fromEmail,
    },
    slack: {
      botToken: get('RUNBOOKD_SLACK_BOT_TOKEN'),
      signingSecret: get('RUNBOOKD_SLACK_SIGNING_SECRET'),
      defaultChannel,
      apiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
      users,
      maxSkewSeconds: Number.isInteger(maxSkewSeconds) ? maxSkewSeconds : 300,
    },
  };
}
