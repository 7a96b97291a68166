import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadTracingConfig, type TracingConfig } from './tracing.config';


/**
 * The one place that reads process.env. Every value is parsed and checked at boot; a bad or
 * missing value stops the process with one message listing every problem, not the first.
 */
export type Role = 'all' | 'api' | 'worker';

export interface ApiKeyEntry {
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  /** Lower-case hex SHA-256 of the key; the key itself is never configured or stored. */
  sha256: string;
}

export class AppConfig {
  nodeEnv!: string;
  port!: number;
  host!: string;
  role!: Role;
  redisUrl!: string;
  /** Unset means the embedded PGlite database in `pgliteDir`. */
  databaseUrl!: string | undefined;
  pgliteDir!: string;
  runbooksDir!: string;
  apiKeys!: ApiKeyEntry[];
  /** Where a generated development admin key is written (never logged). */
  stateDir!: string;
  awsRegion!: string;
  /** Sandbox endpoints the SDK picks up itself; kept here to say so at boot. */
  awsEndpoints!: Record<string, string>;
  /** Attempts for read-only AWS calls (adaptive retry). Mutating calls always get exactly one. */
  awsMaxAttempts!: number;
  /** Time to open a connection to an AWS endpoint before the call fails (retryable). */
  awsConnectTimeoutMs!: number;
  /** Time an AWS call may go without an answer before it fails with AWS_TIMEOUT (retryable). */
  awsRequestTimeoutMs!: number;
  /** A run whose executions failed (threw, died mid-run, re-queued) this many times is dead-lettered. */
  runMaxFailedExecutions!: number;
  /**
   * Test-only: named points where this process kills or freezes itself (the fault suite). Refused
   * when NODE_ENV=production, so a production process has none.
   */
  faultPoints!: FaultPoint[];
  queuePrefix!: string;
  workerConcurrency!: number;
  /** BullMQ lock: how long before a dead worker's run is picked up by another. */
  workerLockMs!: number;
  workerStalledIntervalMs!: number;
  reconcileIntervalMs!: number;
  /** Default run timeout when a runbook sets none. */
  defaultRunTimeoutSeconds!: number;
  /** Base URL people reach the API at: links to reports in notifications. */
  publicUrl!: string;
  /** How often workers look for notifications due. */
  notifyIntervalMs!: number;
  /** First retry delay of a failed notification; doubles per attempt (capped at 10 minutes). */
  notifyBackoffMs!: number;
  notifyMaxAttempts!: number;
  notifyTimeoutMs!: number;
  logFormat!: 'text' | 'json';
  /** OpenTelemetry traces (standard OTEL_* variables); off unless an endpoint or exporter is set. */
  tracing!: TracingConfig;
  // Schedules.
  /** Declaration heartbeat, pruning of undeclared schedulers and catch-up of missed ticks, per replica. */
  scheduleHousekeepingIntervalMs!: number;
  /** Attempts of a tick job whose database or queue work fails (catch-up covers what they do not). */
  scheduleTickAttempts!: number;
  /** First retry delay of a failed tick job; doubles per attempt, capped at `SCHEDULE_TICK_BACKOFF_CAP_MS`. */
  scheduleTickBackoffMs!: number;
  // PostgreSQL connections (unused with PGlite).
  /** Pool size per process: RUNBOOKD_DB_POOL_MAX, else derived from the worker concurrency (`derivedPoolMax`). */
  dbPoolMax!: number;
  /** statement_timeout of every connection; a statement cancelled by it is a retryable DB_TIMEOUT. */
  dbStatementTimeoutMs!: number;
  /** lock_timeout of every connection (row, table and advisory locks); DB_TIMEOUT as well. */
  dbLockTimeoutMs!: number;
  /** Wait for a connection (new, or free in the pool) before DB_UNAVAILABLE. */
  dbConnectTimeoutMs!: number;
  logLevel!: 'error' | 'warn' | 'log' | 'debug';
  /** SNS topics the webhook accepts besides those named by runbook `alarm` triggers. */
  snsTopics!: string[];
  /** Sandbox/demo only: PEM files here answer for SigningCertURLs by file name (host rule still applies). */
  snsCertsDir!: string | undefined;
  /** Messages whose Timestamp is older than this are refused (replays). */
  snsMaxMessageAgeSeconds!: number;
  /** Largest webhook body accepted; SNS messages are at most 256 KB plus the envelope. */
  snsBodyLimitBytes!: number;
  snsCertTimeoutMs!: number;
  /** Web console: how long a sign-in lasts (the session cookie's lifetime). */
  sessionTtlSeconds!: number;
  /** How often an open `GET /v1/runs/:id/events` stream looks at its run in the database. */
  runEventsPollMs!: number;
  /** Refused webhook posts are audited once per source and reason per interval this long, with their count. */
  snsRefusalAuditIntervalSeconds!: number;
  /** Webhook posts accepted per source address per minute; more are answered 429 before any work. */
  snsRateLimitPerMinute!: number;
  /** How far CloudWatch's own state-change time may be from the one a notification names. */
  snsAlarmTimeToleranceSeconds!: number;
  /**
   * DescribeAlarms calls a second this process makes per region and role, at most: confirmations,
   * alarm waits and guard checks share it (AlarmReaderService). Every process reading alarms
   * counts against the account's one quota, so processes × this should stay below it.
   */
  describeAlarmsPerSecond!: number;
  /** Roles to assume for reading alarms (DescribeAlarms) in other accounts; the ARN's account says where each applies. */
  alarmRoleArns!: string[];
  /** Accounts runbookd may act in (alarms and role targets); empty means any (see README, Security). */
  allowedAccounts!: string[];
  /** Regions runbookd may act in; the configured AWS region and the regions runbook defaults name are always added. */
  allowedRegions!: string[];
  /** Role ARN patterns (`*` matches within one ARN) a run may assume; empty means any role in an allowed account. */
  allowedRoleArns!: string[];
  /**
   * How a fleet reaches an account other than the home one (the default credentials' account):
   * RUNBOOKD_ACCOUNT_ROLE_ARN, one role ARN template with `{account}` (arn:aws:iam::{account}:role/runbookd).
   * Unset: a fleet acts in the home account only.
   */
  accountRoleArnTemplate!: string | undefined;
  /** Most targets one fleet run may have (RUNBOOKD_FLEET_MAX_TARGETS); a larger resolution is refused with 422. */
  fleetMaxTargets!: number;
  /** RUNBOOKD_POLICY: who may do what where, production accounts, approval rules (src/policy/); unset means the built-in defaults. */
  policyFile!: string | undefined;
  /** How often committed audit records are sealed into the hash chain (by one replica at a time). */
  auditSealIntervalMs!: number;
  /** A signed digest is made at least this often while the chain grows... */
  auditDigestIntervalMs!: number;
  /** ...and after a run ends, once this long has passed since the previous digest (run ends are coalesced). */
  auditDigestMinGapMs!: number;
  /** Ed25519 private key (PKCS#8 PEM) that signs digests; never stored in the database. */
  auditSigningKeyPem!: string | undefined;
  /** Read when `auditSigningKeyPem` is unset; generated there (mode 0600) outside production when missing. */
  auditSigningKeyFile!: string;
  /** Where digests are published: an append-only file (default) or an S3 bucket with Object Lock. */
  auditDigestStore!: { kind: 'file'; path: string } | { kind: 's3'; bucket: string; prefix: string };
  /** Object Lock (COMPLIANCE) retention of each digest object in S3, in days. */
  auditDigestRetentionDays!: number;
  auditDigestStoreTimeoutMs!: number;
  /** AES-256 key that seals `writeOnly` run parameters at rest (RUNBOOKD_SECRETS_KEY, 32 bytes base64). */
  secretsKey!: Buffer | undefined;
  /** The id recorded in every envelope sealed with `secretsKey`; defaults to the key's fingerprint. */
  secretsKeyId!: string | undefined;
  /** Earlier keys, accepted to open envelopes only (rotation): RUNBOOKD_SECRETS_OLD_KEYS=id:base64,... */
  secretsOldKeys!: Array<{ id: string; key: Buffer }>;
  /** Read when `secretsKey` is unset; generated there (mode 0600) outside production when missing. */
  secretsKeyFile!: string;

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

type Env = Record<string, string | undefined>;

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

export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/;

export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const str = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const v = str(name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  };
  const url = (name: string, fallback: string | undefined, protocols: string[]): string | undefined => {
    const v = env[name] === '' ? undefined : (env[name] ?? fallback);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) problems.push(`${name} must use ${protocols.join(' or ')}, got "${u.protocol}"`);
    } catch {
      problems.push(`${name} is not a URL`);
    }
    return v;
  };

  const c = new AppConfig();
  c.nodeEnv = str('NODE_ENV', 'development');
  c.port = int('PORT', 3000, 0, 65535);
  c.host = str('HOST', '0.0.0.0');
  c.role = oneOf<Role>('RUNBOOKD_ROLE', 'all', ['all', 'api', 'worker']);
  c.redisUrl = url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379';
  c.databaseUrl = url('DATABASE_URL', undefined, ['postgres:', 'postgresql:']);
  c.stateDir = path.resolve(str('RUNBOOKD_STATE_DIR', './.runbookd'));
  c.pgliteDir = path.resolve(str('RUNBOOKD_PGLITE_DIR', path.join(c.stateDir, 'db')));
  c.runbooksDir = path.resolve(str('RUNBOOKD_RUNBOOKS_DIR', './runbooks'));
  c.apiKeys = parseApiKeys(env.RUNBOOKD_API_KEYS ?? '', problems);
  c.awsRegion = str('AWS_REGION', str('AWS_DEFAULT_REGION', 'us-east-1'));
  if (!REGION_CODE.test(c.awsRegion)) problems.push(`AWS_REGION "${c.awsRegion}" is not a region code such as eu-west-1`);
  c.awsEndpoints = {};
  for (const [k, v] of Object.entries(env)) {
    if (v && (k === 'AWS_ENDPOINT_URL' || k.startsWith('AWS_ENDPOINT_URL_'))) {
      url(k, undefined, ['http:', 'https:']);
      c.awsEndpoints[k] = v;
    }
  }
  c.awsMaxAttempts = int('RUNBOOKD_AWS_MAX_ATTEMPTS', 5, 1, 20);
  c.awsConnectTimeoutMs = int('RUNBOOKD_AWS_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000);
  c.awsRequestTimeoutMs = int('RUNBOOKD_AWS_REQUEST_TIMEOUT_MS', 60_000, 200, 900_000);
  c.runMaxFailedExecutions = int('RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS', 10, 1, 1000);
  c.faultPoints = [];
  for (const item of str('RUNBOOKD_FAULT_INJECT', '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = FAULT_POINT.exec(item);
    if (!m) problems.push(`RUNBOOKD_FAULT_INJECT: "${item}" is not <crash|stall|throw|dbfail>@<step|aws>:<name>:<when>`);
    else c.faultPoints.push({ action: m[1] as FaultPoint['action'], point: m[2] });
  }
  c.queuePrefix = str('RUNBOOKD_QUEUE_PREFIX', 'runbookd');
  if (!/^[A-Za-z0-9_-]+$/.test(c.queuePrefix)) problems.push('RUNBOOKD_QUEUE_PREFIX may hold letters, digits, _ and - only');
  c.workerConcurrency = int('RUNBOOKD_WORKER_CONCURRENCY', 10, 1, 500);
  c.workerLockMs = int('RUNBOOKD_WORKER_LOCK_MS', 30_000, 500, 600_000);
  c.workerStalledIntervalMs = int('RUNBOOKD_WORKER_STALLED_INTERVAL_MS', 30_000, 200, 600_000);
  c.reconcileIntervalMs = int('RUNBOOKD_RECONCILE_INTERVAL_MS', 30_000, 200, 3_600_000);
  c.defaultRunTimeoutSeconds = int('RUNBOOKD_DEFAULT_RUN_TIMEOUT_SECONDS', 3600, 1, 7 * 86400);
  c.publicUrl = (url('RUNBOOKD_PUBLIC_URL', `http://127.0.0.1:${c.port}`, ['http:', 'https:']) ?? '').replace(/\/+$/, '');
  c.notifyIntervalMs = int('RUNBOOKD_NOTIFY_INTERVAL_MS', 2000, 100, 600_000);
  c.notifyBackoffMs = int('RUNBOOKD_NOTIFY_BACKOFF_MS', 5000, 10, 3_600_000);
  c.notifyMaxAttempts = int('RUNBOOKD_NOTIFY_MAX_ATTEMPTS', 8, 1, 50);
  c.notifyTimeoutMs = int('RUNBOOKD_NOTIFY_TIMEOUT_MS', 10_000, 100, 120_000);
  c.scheduleHousekeepingIntervalMs = int('RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS', 60_000, 200, 3_600_000);
  c.scheduleTickAttempts = int('RUNBOOKD_SCHEDULE_TICK_ATTEMPTS', 12, 1, 100);
  c.scheduleTickBackoffMs = int('RUNBOOKD_SCHEDULE_TICK_BACKOFF_MS', 1000, 10, 600_000);
  c.dbPoolMax = int('RUNBOOKD_DB_POOL_MAX', derivedPoolMax(c.workerConcurrency), 2, 1000);
  c.dbStatementTimeoutMs = int('RUNBOOKD_DB_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000);
  c.dbLockTimeoutMs = int('RUNBOOKD_DB_LOCK_TIMEOUT_MS', 10_000, 0, 3_600_000);
  c.dbConnectTimeoutMs = int('RUNBOOKD_DB_CONNECT_TIMEOUT_MS', 10_000, 100, 600_000);
  if (c.dbStatementTimeoutMs > 0 && c.dbLockTimeoutMs > c.dbStatementTimeoutMs) {
    problems.push(`RUNBOOKD_DB_LOCK_TIMEOUT_MS (${c.dbLockTimeoutMs}) must not exceed RUNBOOKD_DB_STATEMENT_TIMEOUT_MS (${c.dbStatementTimeoutMs}): the statement timeout would fire first`);
  }
  c.logFormat = oneOf('RUNBOOKD_LOG_FORMAT', 'text', ['text', 'json']);
  c.logLevel = oneOf('RUNBOOKD_LOG_LEVEL', 'log', ['error', 'warn', 'log', 'debug']);
  c.tracing = loadTracingConfig(env, problems, SERVICE_VERSION);

  c.snsTopics = str('RUNBOOKD_SNS_TOPICS', '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of c.snsTopics) {
    if (!SNS_TOPIC_ARN.test(t)) problems.push(`RUNBOOKD_SNS_TOPICS: "${t}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)`);
  }
  c.snsCertsDir = env.RUNBOOKD_SNS_CERTS_DIR ? path.resolve(env.RUNBOOKD_SNS_CERTS_DIR) : undefined;
  if (c.snsCertsDir && c.isProduction) {
    problems.push('RUNBOOKD_SNS_CERTS_DIR serves test signing certificates and is refused when NODE_ENV=production');
  }
  c.snsMaxMessageAgeSeconds = int('RUNBOOKD_SNS_MAX_MESSAGE_AGE_SECONDS', 3600, 1, 7 * 86400);
  c.snsBodyLimitBytes = int('RUNBOOKD_SNS_BODY_LIMIT_BYTES', 320 * 1024, 1024, 1024 * 1024);
  c.snsCertTimeoutMs = int('RUNBOOKD_SNS_CERT_TIMEOUT_MS', 3000, 100, 60_000);
  c.sessionTtlSeconds = int('RUNBOOKD_SESSION_TTL_SECONDS', 8 * 3600, 60, 7 * 86400);
  c.runEventsPollMs = int('RUNBOOKD_EVENTS_POLL_MS', 1000, 100, 60_000);

  if (c.isProduction && c.faultPoints.length > 0) {
    problems.push('RUNBOOKD_FAULT_INJECT is for the fault suite only and is refused when NODE_ENV=production');
  }
  c.snsRefusalAuditIntervalSeconds = int('RUNBOOKD_SNS_REFUSAL_AUDIT_INTERVAL_SECONDS', 60, 1, 3600);
  c.snsRateLimitPerMinute = int('RUNBOOKD_SNS_RATE_LIMIT_PER_MINUTE', 1200, 1, 1_000_000);
  c.snsAlarmTimeToleranceSeconds = int('RUNBOOKD_SNS_ALARM_TIME_TOLERANCE_SECONDS', 60, 1, 3600);
  c.describeAlarmsPerSecond = int('RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND', 4, 1, 50);
  const list = (name: string) => str(name, '').split(',').map((t) => t.trim()).filter(Boolean);
  c.alarmRoleArns = list('RUNBOOKD_ALARM_ROLE_ARNS');
  for (const r of c.alarmRoleArns) if (!ROLE_ARN.test(r)) problems.push(`RUNBOOKD_ALARM_ROLE_ARNS: "${r}" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
  c.allowedAccounts = list('RUNBOOKD_ALLOWED_ACCOUNTS');
  c.policyFile = env.RUNBOOKD_POLICY ? path.resolve(env.RUNBOOKD_POLICY) : undefined;
  for (const a of c.allowedAccounts) if (!/^\d{12}$/.test(a)) problems.push(`RUNBOOKD_ALLOWED_ACCOUNTS: "${a}" is not a 12-digit account id`);
  c.allowedRegions = list('RUNBOOKD_ALLOWED_REGIONS');
  for (const r of c.allowedRegions) if (!REGION_CODE.test(r)) problems.push(`RUNBOOKD_ALLOWED_REGIONS: "${r}" is not a region code such as eu-west-1`);
  c.allowedRoleArns = list('RUNBOOKD_ALLOWED_ROLE_ARNS');
  for (const r of c.allowedRoleArns) if (!/^arn:aws[a-z-]*:iam::[\d*]{1,12}:role\/.+$/.test(r)) problems.push(`RUNBOOKD_ALLOWED_ROLE_ARNS: "${r}" is not a role ARN pattern (arn:aws:iam::<account>:role/<name>, * as a wildcard)`);

  c.accountRoleArnTemplate = env.RUNBOOKD_ACCOUNT_ROLE_ARN?.trim() || undefined;
  if (c.accountRoleArnTemplate) {
    const t = c.accountRoleArnTemplate;
    if (!t.includes('{account}') || !ROLE_ARN.test(t.split('{account}').join('111111111111')) || !/:iam::\{account\}:role\//.test(t)) {
      problems.push(`RUNBOOKD_ACCOUNT_ROLE_ARN must be a role ARN whose account is {account} (arn:aws:iam::{account}:role/runbookd), got "${t}"`);
    }
  }
  c.fleetMaxTargets = int('RUNBOOKD_FLEET_MAX_TARGETS', 5000, 1, 100_000);

  // PGlite is one process's folder: a second process (a worker beside an api) would open the same files.
  if (!c.databaseUrl && c.isProduction) {
    problems.push('DATABASE_URL must be set when NODE_ENV=production: the embedded PGlite database is for development and demos');
  }
  if (!c.databaseUrl && c.role !== 'all') {
    problems.push(`DATABASE_URL must be set for RUNBOOKD_ROLE=${c.role}: split api and worker processes cannot share the embedded PGlite folder`);
  }
  c.auditSealIntervalMs = int('RUNBOOKD_AUDIT_SEAL_INTERVAL_MS', 200, 10, 60_000);
  c.auditDigestIntervalMs = int('RUNBOOKD_AUDIT_DIGEST_INTERVAL_MS', 60_000, 100, 86_400_000);
  c.auditDigestMinGapMs = int('RUNBOOKD_AUDIT_DIGEST_MIN_GAP_MS', 2_000, 0, 3_600_000);
  const keyPem = env.RUNBOOKD_AUDIT_SIGNING_KEY;
  c.auditSigningKeyPem = keyPem ? keyPem.replace(/\\n/g, '\n') : undefined;
  if (c.auditSigningKeyPem && !c.auditSigningKeyPem.includes('PRIVATE KEY')) {
    problems.push('RUNBOOKD_AUDIT_SIGNING_KEY must be an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)');
  }
  c.auditSigningKeyFile = path.resolve(str('RUNBOOKD_AUDIT_SIGNING_KEY_FILE', path.join(c.stateDir, 'audit-signing-key.pem')));
  const store = str('RUNBOOKD_AUDIT_DIGEST_STORE', path.join(c.stateDir, 'audit-digests.jsonl'));
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(store);
  if (s3) {
    const prefix = s3[2] ?? '';
    c.auditDigestStore = { kind: 's3', bucket: s3[1], prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
  } else if (/^[a-z0-9]+:\/\//i.test(store) && !store.startsWith('file://')) {
    problems.push(`RUNBOOKD_AUDIT_DIGEST_STORE must be s3://bucket/prefix or a file path, got "${store}"`);
    c.auditDigestStore = { kind: 'file', path: path.join(c.stateDir, 'audit-digests.jsonl') };
  } else {
    c.auditDigestStore = { kind: 'file', path: path.resolve(store.replace(/^file:\/\//, '')) };
  }
  c.auditDigestRetentionDays = int('RUNBOOKD_AUDIT_DIGEST_RETENTION_DAYS', 400, 0, 36_500);
  c.auditDigestStoreTimeoutMs = int('RUNBOOKD_AUDIT_DIGEST_STORE_TIMEOUT_MS', 5_000, 100, 120_000);

  const secretKey = (name: string, raw: string): Buffer | undefined => {
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(raw) ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
    if (key.length === 32) return key;
    problems.push(`${name} must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`), got ${key.length} bytes`);
    return undefined;
  };
  c.secretsKey = env.RUNBOOKD_SECRETS_KEY ? secretKey('RUNBOOKD_SECRETS_KEY', env.RUNBOOKD_SECRETS_KEY.trim()) : undefined;
  c.secretsKeyId = env.RUNBOOKD_SECRETS_KEY_ID?.trim() || undefined;
  const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
  if (c.secretsKeyId && !KEY_ID.test(c.secretsKeyId)) problems.push('RUNBOOKD_SECRETS_KEY_ID may hold letters, digits and . _ - only (at most 64)');
  if (c.secretsKeyId && !env.RUNBOOKD_SECRETS_KEY) problems.push('RUNBOOKD_SECRETS_KEY_ID is set but RUNBOOKD_SECRETS_KEY is not');
  c.secretsOldKeys = [];
  for (const [i, item] of list('RUNBOOKD_SECRETS_OLD_KEYS').entries()) {
    const at = item.indexOf(':');
    const id = at > 0 ? item.slice(0, at) : '';
    if (!KEY_ID.test(id)) {
      problems.push(`RUNBOOKD_SECRETS_OLD_KEYS entry ${i + 1} must be id:base64 (id of letters, digits and . _ -)`);
      continue;
    }
    const key = secretKey(`RUNBOOKD_SECRETS_OLD_KEYS entry ${i + 1} ("${id}")`, item.slice(at + 1));
    if (key) c.secretsOldKeys.push({ id, key });
  }
  c.secretsKeyFile = path.resolve(str('RUNBOOKD_SECRETS_KEY_FILE', path.join(c.stateDir, 'secrets-key')));
  // A generated key file in production would be a key nobody chose to keep (or back up): runs sealed with it die with the disk.
  if (c.isProduction && !env.RUNBOOKD_SECRETS_KEY && !env.RUNBOOKD_SECRETS_KEY_FILE) {
    problems.push('RUNBOOKD_SECRETS_KEY (32 bytes base64) or RUNBOOKD_SECRETS_KEY_FILE must be set when NODE_ENV=production: it seals writeOnly run parameters');
  }

  if (c.isProduction && c.apiKeys.length === 0) {
    problems.push('RUNBOOKD_API_KEYS must name at least one key when NODE_ENV=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return c;
}

/** Longest wait between two attempts of a tick job. */
export const SCHEDULE_TICK_BACKOFF_CAP_MS = 60_000;

/** Wait before attempt `attemptsMade + 1` of a tick job: doubling from the base, capped. */
export function scheduleTickBackoff(baseMs: number, attemptsMade: number): number {
  return Math.min(SCHEDULE_TICK_BACKOFF_CAP_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
}

/** How long a failing tick job keeps being retried in all (defaults: 1+2+4+8+16+32+60×5 s ≈ 6 min). */
export function scheduleTickRetryBudgetMs(c: Pick<AppConfig, 'scheduleTickAttempts' | 'scheduleTickBackoffMs'>): number {
  let total = 0;
  for (let made = 1; made < c.scheduleTickAttempts; made++) total += scheduleTickBackoff(c.scheduleTickBackoffMs, made);
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
      const [name, role, sha256, ...rest] = item.split(':');
      const where = `RUNBOOKD_API_KEYS entry ${i + 1}`;
      if (rest.length > 0 || !name || !role || !sha256) {
        problems.push(`${where} must be name:role:sha256hex`);
        return;
      }
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) problems.push(`${where}: name "${name}" may hold letters, digits and . _ @ - only`);
      if (names.has(name)) problems.push(`${where}: name "${name}" is used twice`);
      names.add(name);
      if (role !== 'viewer' && role !== 'operator' && role !== 'admin') {
        problems.push(`${where} ("${name}"): role must be viewer, operator or admin, got "${role}"`);
        return;
      }
      if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
        problems.push(`${where} ("${name}"): the third part must be the 64-hex-digit SHA-256 of the key, not the key`);
        return;
      }
      entries.push({ name, role, sha256: sha256.toLowerCase() });
    });
  return entries;
}
