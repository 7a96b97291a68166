import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type EventBridgeConfig, loadChatOpsConfig, type PagerDutyConfig, type SlackConfig } from './chatops.config';
import { type Env, EnvReader } from './env-reader';
import { loadOidcConfig, type OidcConfig } from './oidc.config';
import { loadSignInLimitConfig, loadTrustedProxies, type SignInLimitConfig, type TrustedProxies } from './sign-in.config';
import { loadTracingConfig, type TracingConfig } from './tracing.config';

/**
 * The one place that reads process.env. Every value is parsed and checked at boot; a bad or
 * missing value stops the process with one message listing every problem, not the first.
 *
 * Fields are grouped by the concern that reads them (`config.database.poolMax`,
 * `config.sns.topics`): a class is given the whole AppConfig and reads its own group, and a new
 * variable goes into the group of its concern.
 */
export type Role = 'all' | 'api' | 'worker';

export interface ApiKeyEntry {
  name: string;
  /**
   * The policy group the key is in: one of the built-in role groups (viewer, operator, admin) or a
   * group RUNBOOKD_POLICY defines; the policy checks at boot that the group exists.
   */
  group: string;
  /** Lower-case hex SHA-256 of the key; the key itself is never configured or stored. */
  sha256: string;
}

/** The HTTP listener and the links it hands out. */
export interface HttpConfig {
  port: number;
  host: string;
  /** Base URL people reach the API at: links to reports in notifications. */
  publicUrl: string;
  /** Reverse proxies whose X-Forwarded-For names the source address (sign-in limits, webhook limits, audit); empty: none. */
  trustedProxies: TrustedProxies;
}

export interface LogConfig {
  format: 'text' | 'json';
  level: 'error' | 'warn' | 'log' | 'debug';
}

/** Who may call the API. */
export interface AuthConfig {
  apiKeys: ApiKeyEntry[];
  /** Web console: how long a sign-in lasts (the session cookie's lifetime). */
  sessionTtlSeconds: number;
  /** How refused sign-ins (a wrong key at POST /v1/session or as a bearer token) are slowed down. */
  signInLimits: SignInLimitConfig;
}

/** PostgreSQL, or the embedded PGlite database when `url` is unset. Connection settings are unused with PGlite. */
export interface DatabaseConfig {
  /** Unset means the embedded PGlite database in `pgliteDir`. */
  url: string | undefined;
  pgliteDir: string;
  /** Pool size per process: RUNBOOKD_DB_POOL_MAX, else derived from the worker concurrency (`derivedPoolMax`). */
  poolMax: number;
  /** statement_timeout of every connection; a statement cancelled by it is a retryable DB_TIMEOUT. */
  statementTimeoutMs: number;
  /** lock_timeout of every connection (row, table and advisory locks); DB_TIMEOUT as well. */
  lockTimeoutMs: number;
  /** Wait for a connection (new, or free in the pool) before DB_UNAVAILABLE. */
  connectTimeoutMs: number;
}

/** Redis and the BullMQ queues on it. */
export interface QueueConfig {
  redisUrl: string;
  prefix: string;
}

/** The run worker and its housekeeping. */
export interface WorkerConfig {
  concurrency: number;
  /** BullMQ lock: how long before a dead worker's run is picked up by another. */
  lockMs: number;
  stalledIntervalMs: number;
  reconcileIntervalMs: number;
}

export interface RunbooksConfig {
  dir: string;
}

/** How runs are executed and watched. */
export interface RunsConfig {
  /** Default run timeout when a runbook sets none. */
  defaultTimeoutSeconds: number;
  /** A run whose executions failed (threw, died mid-run, re-queued) this many times is dead-lettered. */
  maxFailedExecutions: number;
  /** How often an open `GET /v1/runs/:id/events` stream looks at its run in the database. */
  eventsPollMs: number;
}

/**
 * Who computes a capacity report's statistics: `cloudwatch` asks GetMetricData for percentiles,
 * the extreme and coarse trend points over the lookback (about 17 points a series instead of one
 * per period); `local` fetches every per-period point and computes them here (for an emulator
 * without percentile statistics, such as moto).
 */
export type CapacityStatistics = 'cloudwatch' | 'local';

export interface CapacityConfig {
  statistics: CapacityStatistics;
}

/** The AWS SDK clients and the alarm reads they share. */
export interface AwsConfig {
  region: string;
  /** Sandbox endpoints the SDK picks up itself; kept here to say so at boot. */
  endpoints: Record<string, string>;
  /** Attempts for read-only AWS calls (adaptive retry). Mutating calls always get exactly one. */
  maxAttempts: number;
  /** Time to open a connection to an AWS endpoint before the call fails (retryable). */
  connectTimeoutMs: number;
  /** Time an AWS call may go without an answer before it fails with AWS_TIMEOUT (retryable). */
  requestTimeoutMs: number;
  /**
   * DescribeAlarms calls a second this process makes per region and role, at most: confirmations,
   * alarm waits and guard checks share it (AlarmReaderService). Every process reading alarms
   * counts against the account's one quota, so processes × this should stay below it.
   */
  describeAlarmsPerSecond: number;
  /** Roles to assume for reading alarms (DescribeAlarms) in other accounts; the ARN's account says where each applies. */
  alarmRoleArns: string[];
}

/** Where runbookd may act, and who may do what there. */
export interface ScopeConfig {
  /** Accounts runbookd may act in (alarms and role targets); empty means any (see README, Security). */
  allowedAccounts: string[];
  /** Regions runbookd may act in; the configured AWS region and the regions runbook defaults name are always added. */
  allowedRegions: string[];
  /** Role ARN patterns (`*` matches within one ARN) a run may assume; empty means any role in an allowed account. */
  allowedRoleArns: string[];
  /** RUNBOOKD_POLICY: who may do what where, production accounts, approval rules (src/policy/); unset means the built-in defaults. */
  policyFile: string | undefined;
}

export interface FleetsConfig {
  /**
   * How a fleet reaches an account other than the home one (the default credentials' account):
   * RUNBOOKD_ACCOUNT_ROLE_ARN, one role ARN template with `{account}` (arn:aws:iam::{account}:role/runbookd).
   * Unset: a fleet acts in the home account only.
   */
  accountRoleArnTemplate: string | undefined;
  /** Most targets one fleet run may have (RUNBOOKD_FLEET_MAX_TARGETS); a larger resolution is refused with 422. */
  maxTargets: number;
}

/** Resilience posture (src/resilience/): the tiers resources are held to. */
export interface ResilienceConfig {
  /** RUNBOOKD_RESILIENCE_POLICY: tiers of RPO/RTO targets and evidence freshness, and who is in which; unset = every resource untiered. */
  policyFile: string | undefined;
  /** RUNBOOKD_RESILIENCE_CACHE_SECONDS: how long one posture (its AWS reads) is served before it is computed again. */
  cacheSeconds: number;
}

/** The notification outbox. */
export interface NotificationsConfig {
  /** How often workers look for notifications due. */
  intervalMs: number;
  /** First retry delay of a failed notification; doubles per attempt (capped at 10 minutes). */
  backoffMs: number;
  maxAttempts: number;
  timeoutMs: number;
}

export interface SchedulesConfig {
  /** Declaration heartbeat, pruning of undeclared schedulers and catch-up of missed ticks, per replica. */
  housekeepingIntervalMs: number;
  /** Attempts of a tick job whose database or queue work fails (catch-up covers what they do not). */
  tickAttempts: number;
  /** First retry delay of a failed tick job; doubles per attempt, capped at `SCHEDULE_TICK_BACKOFF_CAP_MS`. */
  tickBackoffMs: number;
}

/** The SNS webhook (alarm triggers). */
export interface SnsConfig {
  /** SNS topics the webhook accepts besides those named by runbook `alarm` triggers. */
  topics: string[];
  /** Sandbox/demo only: PEM files here answer for SigningCertURLs by file name (host rule still applies). */
  certsDir: string | undefined;
  /** Messages whose Timestamp is older than this are refused (replays). */
  maxMessageAgeSeconds: number;
  /** Largest webhook body accepted; SNS messages are at most 256 KB plus the envelope. */
  bodyLimitBytes: number;
  certTimeoutMs: number;
  /** Refused webhook posts are audited once per source and reason per interval this long, with their count. */
  refusalAuditIntervalSeconds: number;
  /** Webhook posts accepted per source address per minute; more are answered 429 before any work. */
  rateLimitPerMinute: number;
  /** How far CloudWatch's own state-change time may be from the one a notification names. */
  alarmTimeToleranceSeconds: number;
}

/** Sealing and publishing the audit chain. */
export interface AuditConfig {
  /** How often committed audit records are sealed into the hash chain (by one replica at a time). */
  sealIntervalMs: number;
  /** A signed digest is made at least this often while the chain grows... */
  digestIntervalMs: number;
  /** ...and after a run ends, once this long has passed since the previous digest (run ends are coalesced). */
  digestMinGapMs: number;
  /** Ed25519 private key (PKCS#8 PEM) that signs digests; never stored in the database. */
  signingKeyPem: string | undefined;
  /** Read when `signingKeyPem` is unset; generated there (mode 0600) outside production when missing. */
  signingKeyFile: string;
  /** Where digests are published: an append-only file (default) or an S3 bucket with Object Lock. */
  digestStore: { kind: 'file'; path: string } | { kind: 's3'; bucket: string; prefix: string };
  /** Object Lock (COMPLIANCE) retention of each digest object in S3, in days. */
  digestRetentionDays: number;
  digestStoreTimeoutMs: number;
}

/** The key that seals `writeOnly` run parameters at rest. */
export interface SecretsConfig {
  /** AES-256 key (RUNBOOKD_SECRETS_KEY, 32 bytes base64). */
  key: Buffer | undefined;
  /** The id recorded in every envelope sealed with `key`; defaults to the key's fingerprint. */
  keyId: string | undefined;
  /** Earlier keys, accepted to open envelopes only (rotation): RUNBOOKD_SECRETS_OLD_KEYS=id:base64,... */
  oldKeys: Array<{ id: string; key: Buffer }>;
  /** Read when `key` is unset; generated there (mode 0600) outside production when missing. */
  keyFile: string;
}

export class AppConfig {
  nodeEnv!: string;
  role!: Role;
  /** Where a generated development admin key, keys and the PGlite folder go by default (never logged). */
  stateDir!: string;
  /**
   * Test-only: named points where this process kills or freezes itself (the fault suite). Refused
   * when NODE_ENV=production, so a production process has none.
   */
  faultPoints!: FaultPoint[];
  http!: HttpConfig;
  log!: LogConfig;
  /** OpenTelemetry traces (standard OTEL_* variables); off unless an endpoint or exporter is set. */
  tracing!: TracingConfig;
  auth!: AuthConfig;
  /** Console sign-in through an OpenID Connect provider (src/config/oidc.config.ts); undefined: SSO is off. */
  oidc!: OidcConfig | undefined;
  database!: DatabaseConfig;
  queue!: QueueConfig;
  worker!: WorkerConfig;
  runbooks!: RunbooksConfig;
  runs!: RunsConfig;
  aws!: AwsConfig;
  capacity!: CapacityConfig;
  scope!: ScopeConfig;
  fleets!: FleetsConfig;
  resilience!: ResilienceConfig;
  notifications!: NotificationsConfig;
  schedules!: SchedulesConfig;
  sns!: SnsConfig;
  /** Alarms from an EventBridge API destination, PagerDuty incidents, Slack threads and approvals (chatops.config.ts). */
  eventbridge!: EventBridgeConfig;
  pagerduty!: PagerDutyConfig;
  slack!: SlackConfig;
  audit!: AuditConfig;
  secrets!: SecretsConfig;

  get isProduction(): boolean {
    return this.nodeEnv === 'production';
  }
}

export interface FaultPoint {
  /** What the process does there: die at once, freeze itself (SIGSTOP), or throw an infrastructure error. */
  action: 'crash' | 'stall' | 'throw' | 'dbfail';
  /** e.g. `step:failover:before`, `aws:FailoverDBCluster:after-answer`. */
  point: string;
}

const FAULT_POINT = /^(crash|stall|throw|dbfail)@((?:step|aws):[A-Za-z0-9._-]+:(?:before|after|before-send|after-answer|record-answer|after-record))$/;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The service's version as traces name it: package.json's, two folders up from src/config and dist/config alike. */
const SERVICE_VERSION = ((): string => {
  try {
    return String(JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
})();

const REGION_CODE = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/;

export function loadConfig(env: Env = process.env): AppConfig {
  const r = new EnvReader(env);
  const c = new AppConfig();
  c.nodeEnv = r.str('NODE_ENV', 'development');
  const port = r.int('PORT', 3000, 0, 65535);
  c.http = {
    port,
    host: r.str('HOST', '0.0.0.0'),
    publicUrl: (r.url('RUNBOOKD_PUBLIC_URL', `http://127.0.0.1:${port}`, ['http:', 'https:']) ?? '').replace(/\/+$/, ''),
    trustedProxies: loadTrustedProxies(r),
  };
  c.role = r.oneOf<Role>('RUNBOOKD_ROLE', 'all', ['all', 'api', 'worker']);
  c.stateDir = path.resolve(r.str('RUNBOOKD_STATE_DIR', './.runbookd'));
  c.log = {
    format: r.oneOf('RUNBOOKD_LOG_FORMAT', 'text', ['text', 'json']),
    level: r.oneOf('RUNBOOKD_LOG_LEVEL', 'log', ['error', 'warn', 'log', 'debug']),
  };
  c.tracing = loadTracingConfig(r, SERVICE_VERSION);
  c.queue = {
    redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379',
    prefix: r.str('RUNBOOKD_QUEUE_PREFIX', 'runbookd'),
  };
  if (!/^[A-Za-z0-9_-]+$/.test(c.queue.prefix)) r.problems.push('RUNBOOKD_QUEUE_PREFIX may hold letters, digits, _ and - only');
  c.worker = {
    concurrency: r.int('RUNBOOKD_WORKER_CONCURRENCY', 10, 1, 500),
    lockMs: r.int('RUNBOOKD_WORKER_LOCK_MS', 30_000, 500, 600_000),
    stalledIntervalMs: r.int('RUNBOOKD_WORKER_STALLED_INTERVAL_MS', 30_000, 200, 600_000),
    reconcileIntervalMs: r.int('RUNBOOKD_RECONCILE_INTERVAL_MS', 30_000, 200, 3_600_000),
  };
  c.database = readDatabase(r, c);
  c.auth = {
    apiKeys: parseApiKeys(env.RUNBOOKD_API_KEYS ?? '', r.problems),
    sessionTtlSeconds: r.int('RUNBOOKD_SESSION_TTL_SECONDS', 8 * 3600, 60, 7 * 86400),
    signInLimits: loadSignInLimitConfig(r),
  };
  c.oidc = loadOidcConfig(r, c.http.publicUrl);
  c.runbooks = { dir: path.resolve(r.str('RUNBOOKD_RUNBOOKS_DIR', './runbooks')) };
  c.runs = {
    defaultTimeoutSeconds: r.int('RUNBOOKD_DEFAULT_RUN_TIMEOUT_SECONDS', 3600, 1, 7 * 86400),
    maxFailedExecutions: r.int('RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS', 10, 1, 1000),
    eventsPollMs: r.int('RUNBOOKD_EVENTS_POLL_MS', 1000, 100, 60_000),
  };
  c.aws = readAws(r);
  c.capacity = { statistics: r.oneOf<CapacityStatistics>('RUNBOOKD_CAPACITY_STATISTICS', 'cloudwatch', ['cloudwatch', 'local']) };
  c.faultPoints = [];
  for (const item of r.list('RUNBOOKD_FAULT_INJECT')) {
    const m = FAULT_POINT.exec(item);
    if (!m) r.problems.push(`RUNBOOKD_FAULT_INJECT: "${item}" is not <crash|stall|throw|dbfail>@<step|aws>:<name>:<when>`);
    else c.faultPoints.push({ action: m[1] as FaultPoint['action'], point: m[2] });
  }
  c.notifications = {
    intervalMs: r.int('RUNBOOKD_NOTIFY_INTERVAL_MS', 2000, 100, 600_000),
    backoffMs: r.int('RUNBOOKD_NOTIFY_BACKOFF_MS', 5000, 10, 3_600_000),
    maxAttempts: r.int('RUNBOOKD_NOTIFY_MAX_ATTEMPTS', 8, 1, 50),
    timeoutMs: r.int('RUNBOOKD_NOTIFY_TIMEOUT_MS', 10_000, 100, 120_000),
  };
  c.schedules = {
    housekeepingIntervalMs: r.int('RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS', 60_000, 200, 3_600_000),
    tickAttempts: r.int('RUNBOOKD_SCHEDULE_TICK_ATTEMPTS', 12, 1, 100),
    tickBackoffMs: r.int('RUNBOOKD_SCHEDULE_TICK_BACKOFF_MS', 1000, 10, 600_000),
  };
  c.sns = readSns(r);
  ({ eventbridge: c.eventbridge, pagerduty: c.pagerduty, slack: c.slack } = loadChatOpsConfig(r));
  c.scope = readScope(r, env);
  c.fleets = readFleets(r, env);
  c.resilience = {
    policyFile: env.RUNBOOKD_RESILIENCE_POLICY ? path.resolve(env.RUNBOOKD_RESILIENCE_POLICY) : undefined,
    cacheSeconds: r.int('RUNBOOKD_RESILIENCE_CACHE_SECONDS', 300, 0, 86_400),
  };
  c.audit = readAudit(r, env, c.stateDir);
  c.secrets = readSecrets(r, env, c.stateDir);

  // Refusals that depend on the environment as a whole.
  const problems = r.problems;
  if (c.isProduction && c.faultPoints.length > 0) {
    problems.push('RUNBOOKD_FAULT_INJECT is for the fault suite only and is refused when NODE_ENV=production');
  }
  if (c.sns.certsDir && c.isProduction) {
    problems.push('RUNBOOKD_SNS_CERTS_DIR serves test signing certificates and is refused when NODE_ENV=production');
  }
  // PGlite is one process's folder: a second process (a worker beside an api) would open the same files.
  if (!c.database.url && c.isProduction) {
    problems.push('DATABASE_URL must be set when NODE_ENV=production: the embedded PGlite database is for development and demos');
  }
  if (!c.database.url && c.role !== 'all') {
    problems.push(`DATABASE_URL must be set for RUNBOOKD_ROLE=${c.role}: split api and worker processes cannot share the embedded PGlite folder`);
  }
  // A generated key file in production would be a key nobody chose to keep (or back up): runs sealed with it die with the disk.
  if (c.isProduction && !env.RUNBOOKD_SECRETS_KEY && !env.RUNBOOKD_SECRETS_KEY_FILE) {
    problems.push(
      'RUNBOOKD_SECRETS_KEY (32 bytes base64) or RUNBOOKD_SECRETS_KEY_FILE must be set when NODE_ENV=production: it seals writeOnly run parameters',
    );
  }
  if (c.isProduction && c.auth.apiKeys.length === 0) {
    problems.push('RUNBOOKD_API_KEYS must name at least one key when NODE_ENV=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return c;
}

function readDatabase(r: EnvReader, c: AppConfig): DatabaseConfig {
  const d: DatabaseConfig = {
    url: r.url('DATABASE_URL', undefined, ['postgres:', 'postgresql:']),
    pgliteDir: path.resolve(r.str('RUNBOOKD_PGLITE_DIR', path.join(c.stateDir, 'db'))),
    poolMax: r.int('RUNBOOKD_DB_POOL_MAX', derivedPoolMax(c.worker.concurrency), 2, 1000),
    statementTimeoutMs: r.int('RUNBOOKD_DB_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000),
    lockTimeoutMs: r.int('RUNBOOKD_DB_LOCK_TIMEOUT_MS', 10_000, 0, 3_600_000),
    connectTimeoutMs: r.int('RUNBOOKD_DB_CONNECT_TIMEOUT_MS', 10_000, 100, 600_000),
  };
  if (d.statementTimeoutMs > 0 && d.lockTimeoutMs > d.statementTimeoutMs) {
    r.problems.push(
      `RUNBOOKD_DB_LOCK_TIMEOUT_MS (${d.lockTimeoutMs}) must not exceed RUNBOOKD_DB_STATEMENT_TIMEOUT_MS (${d.statementTimeoutMs}): the statement timeout would fire first`,
    );
  }
  return d;
}

function readAws(r: EnvReader): AwsConfig {
  const region = r.str('AWS_REGION', r.str('AWS_DEFAULT_REGION', 'us-east-1'));
  if (!REGION_CODE.test(region)) r.problems.push(`AWS_REGION "${region}" is not a region code such as eu-west-1`);
  const endpoints: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.env)) {
    if (v && (k === 'AWS_ENDPOINT_URL' || k.startsWith('AWS_ENDPOINT_URL_'))) {
      r.url(k, undefined, ['http:', 'https:']);
      endpoints[k] = v;
    }
  }
  const alarmRoleArns = r.list('RUNBOOKD_ALARM_ROLE_ARNS');
  r.check('RUNBOOKD_ALARM_ROLE_ARNS', alarmRoleArns, (a) => ROLE_ARN.test(a), 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
  return {
    region,
    endpoints,
    maxAttempts: r.int('RUNBOOKD_AWS_MAX_ATTEMPTS', 5, 1, 20),
    connectTimeoutMs: r.int('RUNBOOKD_AWS_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
    requestTimeoutMs: r.int('RUNBOOKD_AWS_REQUEST_TIMEOUT_MS', 60_000, 200, 900_000),
    describeAlarmsPerSecond: r.int('RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND', 4, 1, 50),
    alarmRoleArns,
  };
}

function readSns(r: EnvReader): SnsConfig {
  const topics = r.list('RUNBOOKD_SNS_TOPICS');
  r.check('RUNBOOKD_SNS_TOPICS', topics, (t) => SNS_TOPIC_ARN.test(t), 'an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)');
  const certsDir = r.env.RUNBOOKD_SNS_CERTS_DIR;
  return {
    topics,
    certsDir: certsDir ? path.resolve(certsDir) : undefined,
    maxMessageAgeSeconds: r.int('RUNBOOKD_SNS_MAX_MESSAGE_AGE_SECONDS', 3600, 1, 7 * 86400),
    bodyLimitBytes: r.int('RUNBOOKD_SNS_BODY_LIMIT_BYTES', 320 * 1024, 1024, 1024 * 1024),
    certTimeoutMs: r.int('RUNBOOKD_SNS_CERT_TIMEOUT_MS', 3000, 100, 60_000),
    refusalAuditIntervalSeconds: r.int('RUNBOOKD_SNS_REFUSAL_AUDIT_INTERVAL_SECONDS', 60, 1, 3600),
    rateLimitPerMinute: r.int('RUNBOOKD_SNS_RATE_LIMIT_PER_MINUTE', 1200, 1, 1_000_000),
    alarmTimeToleranceSeconds: r.int('RUNBOOKD_SNS_ALARM_TIME_TOLERANCE_SECONDS', 60, 1, 3600),
  };
}

function readScope(r: EnvReader, env: Env): ScopeConfig {
  const s: ScopeConfig = {
    allowedAccounts: r.list('RUNBOOKD_ALLOWED_ACCOUNTS'),
    allowedRegions: r.list('RUNBOOKD_ALLOWED_REGIONS'),
    allowedRoleArns: r.list('RUNBOOKD_ALLOWED_ROLE_ARNS'),
    policyFile: env.RUNBOOKD_POLICY ? path.resolve(env.RUNBOOKD_POLICY) : undefined,
  };
  r.check('RUNBOOKD_ALLOWED_ACCOUNTS', s.allowedAccounts, (a) => /^\d{12}$/.test(a), 'a 12-digit account id');
  r.check('RUNBOOKD_ALLOWED_REGIONS', s.allowedRegions, (a) => REGION_CODE.test(a), 'a region code such as eu-west-1');
  r.check(
    'RUNBOOKD_ALLOWED_ROLE_ARNS',
    s.allowedRoleArns,
    (a) => /^arn:aws[a-z-]*:iam::[\d*]{1,12}:role\/.+$/.test(a),
    'a role ARN pattern (arn:aws:iam::<account>:role/<name>, * as a wildcard)',
  );
  return s;
}

function readFleets(r: EnvReader, env: Env): FleetsConfig {
  const t = env.RUNBOOKD_ACCOUNT_ROLE_ARN?.trim() || undefined;
  if (t && (!t.includes('{account}') || !ROLE_ARN.test(t.split('{account}').join('111111111111')) || !/:iam::\{account\}:role\//.test(t))) {
    r.problems.push(`RUNBOOKD_ACCOUNT_ROLE_ARN must be a role ARN whose account is {account} (arn:aws:iam::{account}:role/runbookd), got "${t}"`);
  }
  return { accountRoleArnTemplate: t, maxTargets: r.int('RUNBOOKD_FLEET_MAX_TARGETS', 5000, 1, 100_000) };
}

function readAudit(r: EnvReader, env: Env, stateDir: string): AuditConfig {
  const sealIntervalMs = r.int('RUNBOOKD_AUDIT_SEAL_INTERVAL_MS', 200, 10, 60_000);
  const digestIntervalMs = r.int('RUNBOOKD_AUDIT_DIGEST_INTERVAL_MS', 60_000, 100, 86_400_000);
  const digestMinGapMs = r.int('RUNBOOKD_AUDIT_DIGEST_MIN_GAP_MS', 2_000, 0, 3_600_000);
  const keyPem = env.RUNBOOKD_AUDIT_SIGNING_KEY ? env.RUNBOOKD_AUDIT_SIGNING_KEY.replace(/\\n/g, '\n') : undefined;
  if (keyPem && !keyPem.includes('PRIVATE KEY')) {
    r.problems.push('RUNBOOKD_AUDIT_SIGNING_KEY must be an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)');
  }
  const signingKeyFile = path.resolve(r.str('RUNBOOKD_AUDIT_SIGNING_KEY_FILE', path.join(stateDir, 'audit-signing-key.pem')));
  const store = r.str('RUNBOOKD_AUDIT_DIGEST_STORE', path.join(stateDir, 'audit-digests.jsonl'));
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(store);
  let digestStore: AuditConfig['digestStore'];
  if (s3) {
    const prefix = s3[2] ?? '';
    digestStore = { kind: 's3', bucket: s3[1], prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
  } else if (/^[a-z0-9]+:\/\//i.test(store) && !store.startsWith('file://')) {
    r.problems.push(`RUNBOOKD_AUDIT_DIGEST_STORE must be s3://bucket/prefix or a file path, got "${store}"`);
    digestStore = { kind: 'file', path: path.join(stateDir, 'audit-digests.jsonl') };
  } else {
    digestStore = { kind: 'file', path: path.resolve(store.replace(/^file:\/\//, '')) };
  }
  return {
    sealIntervalMs,
    digestIntervalMs,
    digestMinGapMs,
    signingKeyPem: keyPem,
    signingKeyFile,
    digestStore,
    digestRetentionDays: r.int('RUNBOOKD_AUDIT_DIGEST_RETENTION_DAYS', 400, 0, 36_500),
    digestStoreTimeoutMs: r.int('RUNBOOKD_AUDIT_DIGEST_STORE_TIMEOUT_MS', 5_000, 100, 120_000),
  };
}

function readSecrets(r: EnvReader, env: Env, stateDir: string): SecretsConfig {
  const key = env.RUNBOOKD_SECRETS_KEY ? r.secretKey('RUNBOOKD_SECRETS_KEY', env.RUNBOOKD_SECRETS_KEY.trim()) : undefined;
  const keyId = env.RUNBOOKD_SECRETS_KEY_ID?.trim() || undefined;
  if (keyId && !KEY_ID.test(keyId)) r.problems.push('RUNBOOKD_SECRETS_KEY_ID may hold letters, digits and . _ - only (at most 64)');
  if (keyId && !env.RUNBOOKD_SECRETS_KEY) r.problems.push('RUNBOOKD_SECRETS_KEY_ID is set but RUNBOOKD_SECRETS_KEY is not');
  const oldKeys: SecretsConfig['oldKeys'] = [];
  for (const [i, item] of r.list('RUNBOOKD_SECRETS_OLD_KEYS').entries()) {
    const at = item.indexOf(':');
    const id = at > 0 ? item.slice(0, at) : '';
    if (!KEY_ID.test(id)) {
      r.problems.push(`RUNBOOKD_SECRETS_OLD_KEYS entry ${i + 1} must be id:base64 (id of letters, digits and . _ -)`);
      continue;
    }
    const old = r.secretKey(`RUNBOOKD_SECRETS_OLD_KEYS entry ${i + 1} ("${id}")`, item.slice(at + 1));
    if (old) oldKeys.push({ id, key: old });
  }
  return { key, keyId, oldKeys, keyFile: path.resolve(r.str('RUNBOOKD_SECRETS_KEY_FILE', path.join(stateDir, 'secrets-key'))) };
}

/** Longest wait between two attempts of a tick job. */
export const SCHEDULE_TICK_BACKOFF_CAP_MS = 60_000;

/** Wait before attempt `attemptsMade + 1` of a tick job: doubling from the base, capped. */
export function scheduleTickBackoff(baseMs: number, attemptsMade: number): number {
  return Math.min(SCHEDULE_TICK_BACKOFF_CAP_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
}

/** How long a failing tick job keeps being retried in all (defaults: 1+2+4+8+16+32+60×5 s ≈ 6 min). */
export function scheduleTickRetryBudgetMs(c: Pick<AppConfig, 'schedules'>): number {
  const { tickAttempts, tickBackoffMs } = c.schedules;
  let total = 0;
  for (let made = 1; made < tickAttempts; made++) total += scheduleTickBackoff(tickBackoffMs, made);
  return total;
}

/**
 * Default PostgreSQL pool size: 10 for the API, reconciler, schedules and notifications, plus one
 * per 5 runs a worker may execute at once (a run holds a connection only for the short writes
 * between AWS calls, never across one), capped at 50 so a few replicas stay within PostgreSQL's
 * default max_connections of 100. Concurrency 10 -> 12, 100 -> 30, 200 and up -> 50.
 */
export function derivedPoolMax(workerConcurrency: number): number {
  return Math.min(50, 10 + Math.ceil(workerConcurrency / 5));
}

function parseApiKeys(raw: string, problems: string[]): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const names = new Set<string>();
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((item, i) => {
      const [name, group, sha256, ...rest] = item.split(':');
      const where = `RUNBOOKD_API_KEYS entry ${i + 1}`;
      if (rest.length > 0 || !name || !group || !sha256) {
        problems.push(`${where} must be name:group:sha256hex (group: viewer, operator, admin or a group of RUNBOOKD_POLICY)`);
        return;
      }
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) problems.push(`${where}: name "${name}" may hold letters, digits and . _ @ - only`);
      if (names.has(name)) problems.push(`${where}: name "${name}" is used twice`);
      names.add(name);
      if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/.test(group)) {
        problems.push(`${where} ("${name}"): group "${group.slice(0, 100)}" must be a policy group name (letters, digits and _ . @ -)`);
        return;
      }
      if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
        problems.push(`${where} ("${name}"): the third part must be the 64-hex-digit SHA-256 of the key, not the key`);
        return;
      }
      entries.push({ name, group, sha256: sha256.toLowerCase() });
    });
  return entries;
}
