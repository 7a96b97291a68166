import { createHash } from 'node:crypto';
import * as path from 'node:path';
import {
  ConfigError,
  derivedPoolMax,
  loadConfig,
  SCHEDULE_TICK_BACKOFF_CAP_MS,
  scheduleTickBackoff,
  scheduleTickRetryBudgetMs,
} from '../../src/config/app.config';
import { DatabaseError, toDatabaseError } from '../../src/persistence/database.error';
import { httpStatusOf } from '../../src/http/http-error.filter';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');

/** Runs loadConfig and returns the ConfigError it throws (fails the test if it does not). */
function problems(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected loadConfig to refuse this configuration');
}

/** A sealing key for writeOnly parameters: production refuses to start without one. */
const SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('needs nothing to start in development, with safe defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      nodeEnv: 'development',
      http: { port: 3000 },
      role: 'all',
      queue: { redisUrl: 'redis://127.0.0.1:6379', prefix: 'runbookd' },
      database: { url: undefined },
      auth: { apiKeys: [] },
      aws: { region: 'us-east-1' },
      log: { format: 'text', level: 'log' },
    });
    expect(path.isAbsolute(c.runbooks.dir)).toBe(true);
    expect(c.isProduction).toBe(false);
  });

  it('reads and parses every value it is given', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      RUNBOOKD_SECRETS_KEY: SECRETS_KEY,
      PORT: '8080',
      RUNBOOKD_ROLE: 'worker',
      DATABASE_URL: 'postgres://db/runbookd',
      RUNBOOKD_API_KEYS: `ops:operator:${sha('k1').toUpperCase()}, dash:viewer:${sha('k2')}`,
      AWS_REGION: 'eu-west-1',
      RUNBOOKD_WORKER_CONCURRENCY: '4',
      AWS_ENDPOINT_URL_RDS: 'http://localhost:5000',
    });
    expect(c).toMatchObject({
      http: { port: 8080 },
      role: 'worker',
      database: { url: 'postgres://db/runbookd' },
      aws: { region: 'eu-west-1' },
      worker: { concurrency: 4 },
    });
    expect(c.auth.apiKeys).toEqual([
      { name: 'ops', group: 'operator', sha256: sha('k1') },
      { name: 'dash', group: 'viewer', sha256: sha('k2') },
    ]);
    expect(c.aws.endpoints).toEqual({ AWS_ENDPOINT_URL_RDS: 'http://localhost:5000' });
    expect(c.isProduction).toBe(true);
  });

  it('lists every problem at once, not the first', () => {
    const rawKey = 'rbd_live_4f9d2c7e1a0b';
    const err = problems({
      PORT: 'eighty',
      RUNBOOKD_ROLE: 'scheduler',
      RUNBOOKD_API_KEYS: `ci:operator:${rawKey},ok:viewer:${sha('fine')}`,
      REDIS_URL: 'http://127.0.0.1:6379',
    });
    expect(err.problems).toHaveLength(4);
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT must be an integer from 0 to 65535, got "eighty"/),
        expect.stringMatching(/^RUNBOOKD_ROLE must be one of all, api, worker, got "scheduler"/),
        expect.stringMatching(/^RUNBOOKD_API_KEYS entry 1 \("ci"\): .*SHA-256 of the key, not the key/),
        expect.stringMatching(/^REDIS_URL must use redis: or rediss:/),
      ]),
    );
    // The message printed at boot lists them all.
    for (const p of err.problems) expect(err.message).toContain(p);
    // A key pasted where its hash belongs is never repeated back into the log.
    expect(err.message).not.toContain(rawKey);
  });

  it.each([
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['RUNBOOKD_WORKER_CONCURRENCY', '0'],
    ['RUNBOOKD_LOG_LEVEL', 'verbose'],
    ['AWS_REGION', 'Ireland'],
    ['DATABASE_URL', 'mysql://db/x'],
    ['DATABASE_URL', 'not a url'],
    ['RUNBOOKD_QUEUE_PREFIX', 'runs:{x}'],
    ['AWS_ENDPOINT_URL', 'ftp://moto'],
  ])('refuses %s=%p, naming the variable', (name, value) => {
    const err = problems({ [name]: value });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain(name);
  });

  it.each([
    ['a name without role and hash', 'justaname'],
    ['a fourth part', `x:viewer:${sha('a')}:extra`],
    ['a group that is not a name', `x:-root:${sha('a')}`],
    ['a bad name', `bad name:viewer:${sha('a')}`],
    ['the same name twice', `x:viewer:${sha('a')},x:admin:${sha('b')}`],
  ])('refuses API keys with %s', (_what, keys) => {
    expect(problems({ RUNBOOKD_API_KEYS: keys }).problems[0]).toMatch(/^RUNBOOKD_API_KEYS entry \d/);
  });

  it('refuses production without API keys, and says what to set', () => {
    const err = problems({ NODE_ENV: 'production', RUNBOOKD_SECRETS_KEY: SECRETS_KEY, DATABASE_URL: 'postgres://db/runbookd' });
    expect(err.problems).toEqual(['RUNBOOKD_API_KEYS must name at least one key when NODE_ENV=production']);
    // A key list whose only entry is invalid leaves production without keys: both are said.
    const bad = problems({
      NODE_ENV: 'production',
      RUNBOOKD_SECRETS_KEY: SECRETS_KEY,
      DATABASE_URL: 'postgres://db/runbookd',
      RUNBOOKD_API_KEYS: 'ops:operator:not-a-hash',
    });
    expect(bad.problems).toHaveLength(2);
    expect(bad.problems.join('\n')).toMatch(/not the key[\s\S]*must name at least one key/);
  });

  it('refuses production without a secrets key, and keys that are not 32 bytes of base64', () => {
    const keys = 'ops:admin:' + 'a'.repeat(64);
    expect(problems({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/runbookd', RUNBOOKD_API_KEYS: keys }).problems).toEqual([
      expect.stringMatching(/^RUNBOOKD_SECRETS_KEY \(32 bytes base64\) or RUNBOOKD_SECRETS_KEY_FILE must be set when NODE_ENV=production/),
    ]);
    expect(problems({ RUNBOOKD_SECRETS_KEY: Buffer.alloc(16).toString('base64') }).problems).toEqual([
      'RUNBOOKD_SECRETS_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`), got 16 bytes',
    ]);
    expect(problems({ RUNBOOKD_SECRETS_OLD_KEYS: `old:${SECRETS_KEY},nokey` }).problems).toEqual([
      expect.stringMatching(/^RUNBOOKD_SECRETS_OLD_KEYS entry 2 must be id:base64/),
    ]);
    const c = loadConfig({
      RUNBOOKD_SECRETS_KEY: SECRETS_KEY,
      RUNBOOKD_SECRETS_KEY_ID: 'k2',
      RUNBOOKD_SECRETS_OLD_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    });
    expect(c.secrets.keyId).toBe('k2');
    expect(c.secrets.oldKeys.map((k) => [k.id, k.key.length])).toEqual([['k1', 32]]);
  });

  it('refuses the embedded PGlite database in production and for split api/worker processes, naming DATABASE_URL', () => {
    const keys = 'ops:admin:' + 'a'.repeat(64);
    expect(problems({ NODE_ENV: 'production', RUNBOOKD_SECRETS_KEY: SECRETS_KEY, RUNBOOKD_API_KEYS: keys }).problems).toEqual([
      expect.stringMatching(/^DATABASE_URL must be set when NODE_ENV=production/),
    ]);
    for (const role of ['api', 'worker']) {
      expect(problems({ RUNBOOKD_ROLE: role }).problems).toEqual([expect.stringMatching(new RegExp(`^DATABASE_URL must be set for RUNBOOKD_ROLE=${role}`))]);
    }
    expect(() => loadConfig({ RUNBOOKD_ROLE: 'all' })).not.toThrow();
  });

  it('reads only the env it is given', () => {
    const saved = process.env.PORT;
    process.env.PORT = 'not-a-port';
    try {
      expect(loadConfig({ PORT: '4000' }).http.port).toBe(4000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});

describe('loadConfig: notifications', () => {
  it('defaults the report link base to this listener and reads the delivery settings', () => {
    expect(loadConfig({ PORT: '8080' })).toMatchObject({
      http: { publicUrl: 'http://127.0.0.1:8080' },
      notifications: { intervalMs: 2000, backoffMs: 5000, maxAttempts: 8, timeoutMs: 10_000 },
    });
    expect(loadConfig({ RUNBOOKD_PUBLIC_URL: 'https://runbookd.example.com/', RUNBOOKD_NOTIFY_MAX_ATTEMPTS: '3' })).toMatchObject({
      http: { publicUrl: 'https://runbookd.example.com' },
      notifications: { maxAttempts: 3 },
    });
  });

  it('refuses a public URL that is not http(s) and attempts out of range, naming both', () => {
    const e = problems({ RUNBOOKD_PUBLIC_URL: 'ftp://x', RUNBOOKD_NOTIFY_MAX_ATTEMPTS: '0' });
    expect(e.problems).toEqual([
      'RUNBOOKD_PUBLIC_URL must use http: or https:, got "ftp:"',
      'RUNBOOKD_NOTIFY_MAX_ATTEMPTS must be an integer from 1 to 50, got "0"',
    ]);
  });
});

describe('loadConfig: AWS timeouts, dead letter and fault points', () => {
  it('reads the AWS timeouts and the dead-letter limit, with defaults', () => {
    expect(loadConfig({})).toMatchObject({ aws: { connectTimeoutMs: 5000, requestTimeoutMs: 60_000 }, runs: { maxFailedExecutions: 10 }, faultPoints: [] });
    expect(loadConfig({ RUNBOOKD_AWS_REQUEST_TIMEOUT_MS: '1500', RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS: '2' })).toMatchObject({
      aws: { requestTimeoutMs: 1500 },
      runs: { maxFailedExecutions: 2 },
    });
  });

  it('parses fault points and names a malformed one', () => {
    expect(loadConfig({ RUNBOOKD_FAULT_INJECT: 'crash@aws:FailoverDBCluster:after-answer, stall@step:failover:before' }).faultPoints).toEqual([
      { action: 'crash', point: 'aws:FailoverDBCluster:after-answer' },
      { action: 'stall', point: 'step:failover:before' },
    ]);
    expect(problems({ RUNBOOKD_FAULT_INJECT: 'explode@somewhere' }).problems).toEqual([
      'RUNBOOKD_FAULT_INJECT: "explode@somewhere" is not <crash|stall|throw|dbfail>@<step|aws>:<name>:<when>',
    ]);
  });

  it('refuses fault points in production: a production process has none', () => {
    const e = problems({
      NODE_ENV: 'production',
      RUNBOOKD_SECRETS_KEY: SECRETS_KEY,
      DATABASE_URL: 'postgres://db/runbookd',
      RUNBOOKD_API_KEYS: `a:admin:${'a'.repeat(64)}`,
      RUNBOOKD_FAULT_INJECT: 'crash@step:x:before',
    });
    expect(e.problems).toEqual(['RUNBOOKD_FAULT_INJECT is for the fault suite only and is refused when NODE_ENV=production']);
  });
});

describe('loadConfig: PostgreSQL pool and timeouts', () => {
  it('derives the pool from the worker concurrency (10 + 1 per 5 runs, at most 50) and sets both timeouts by default', () => {
    expect(loadConfig({})).toMatchObject({
      worker: { concurrency: 10 },
      database: { poolMax: 12, statementTimeoutMs: 30_000, lockTimeoutMs: 10_000, connectTimeoutMs: 10_000 },
    });
    expect(loadConfig({ RUNBOOKD_WORKER_CONCURRENCY: '100' }).database.poolMax).toBe(30);
    expect(loadConfig({ RUNBOOKD_WORKER_CONCURRENCY: '500' }).database.poolMax).toBe(50);
    expect(derivedPoolMax(1)).toBe(11);
  });

  it('takes an explicit pool size and timeouts; 0 turns a timeout off', () => {
    expect(
      loadConfig({
        RUNBOOKD_WORKER_CONCURRENCY: '500',
        RUNBOOKD_DB_POOL_MAX: '120',
        RUNBOOKD_DB_STATEMENT_TIMEOUT_MS: '0',
        RUNBOOKD_DB_LOCK_TIMEOUT_MS: '2000',
      }),
    ).toMatchObject({ database: { poolMax: 120, statementTimeoutMs: 0, lockTimeoutMs: 2000 } });
  });

  it('refuses a pool of one, a negative timeout, and a lock timeout longer than the statement timeout', () => {
    const e = problems({ RUNBOOKD_DB_POOL_MAX: '1', RUNBOOKD_DB_STATEMENT_TIMEOUT_MS: '-5' });
    expect(e.problems.join('\n')).toContain('RUNBOOKD_DB_POOL_MAX must be an integer from 2 to 1000, got "1"');
    expect(e.problems.join('\n')).toContain('RUNBOOKD_DB_STATEMENT_TIMEOUT_MS must be an integer from 0');
    expect(problems({ RUNBOOKD_DB_STATEMENT_TIMEOUT_MS: '1000', RUNBOOKD_DB_LOCK_TIMEOUT_MS: '5000' }).problems[0]).toMatch(
      /RUNBOOKD_DB_LOCK_TIMEOUT_MS \(5000\) must not exceed/,
    );
  });

  it('answers database trouble with 503 (retry later), from the one HTTP filter', () => {
    expect(httpStatusOf(new DatabaseError('DB_TIMEOUT', 'statement timeout'))).toBe(503);
    expect(httpStatusOf(new DatabaseError('DB_UNAVAILABLE', 'connection lost'))).toBe(503);
    expect(toDatabaseError(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }))).toMatchObject({
      code: 'DB_TIMEOUT',
      retryable: true,
    });
    expect(toDatabaseError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBeUndefined();
  });
});

describe('loadConfig: schedules', () => {
  it('retries a failing tick job for minutes, long enough to outlive a database failover (was 5 attempts, ~31 s)', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ schedules: { housekeepingIntervalMs: 60_000, tickAttempts: 12, tickBackoffMs: 1000 } });
    // 1 + 2 + 4 + 8 + 16 + 32 + 60 × 5 s: an RDS Multi-AZ failover takes one to two minutes.
    expect(scheduleTickRetryBudgetMs(c)).toBe(363_000);
    expect(scheduleTickRetryBudgetMs(c)).toBeGreaterThan(5 * 60_000);
    // No wait between attempts grows past a minute: a tick retried after the outage is still on time.
    expect(scheduleTickBackoff(1000, 11)).toBe(SCHEDULE_TICK_BACKOFF_CAP_MS);
    expect(scheduleTickBackoff(1000, 1)).toBe(1000);
  });

  it('reads the schedule settings and refuses values out of range', () => {
    expect(
      loadConfig({ RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS: '5000', RUNBOOKD_SCHEDULE_TICK_ATTEMPTS: '3', RUNBOOKD_SCHEDULE_TICK_BACKOFF_MS: '200' }),
    ).toMatchObject({ schedules: { housekeepingIntervalMs: 5000, tickAttempts: 3, tickBackoffMs: 200 } });
    const e = problems({ RUNBOOKD_SCHEDULE_TICK_ATTEMPTS: '0', RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS: '10' });
    expect(e.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('RUNBOOKD_SCHEDULE_TICK_ATTEMPTS must be an integer from 1'),
        expect.stringContaining('RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS must be an integer from 200'),
      ]),
    );
  });
});

describe('loadConfig: alarm reads', () => {
  it('paces DescribeAlarms at 4 a second per process unless told, and names a rate out of range', () => {
    expect(loadConfig({}).aws.describeAlarmsPerSecond).toBe(4);
    expect(loadConfig({ RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND: '2' }).aws.describeAlarmsPerSecond).toBe(2);
    expect(problems({ RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND: '0' }).problems).toEqual([
      'RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND must be an integer from 1 to 50, got "0"',
    ]);
  });
});
