import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../support/moto';
import { eventually, Harness } from '../support/runbookd';
import { auditOf, endActiveRuns, killWorkers, logOf, MUTATING_RUNBOOKS, resetSandbox, startRun } from './fault-support';

/**
 * Faults below runbookd: PostgreSQL dropping every connection right after AWS acted, PostgreSQL
 * restarting mid-run (a private cluster, so no other suite is touched), and Redis SIGKILLed (with
 * AOF) mid-run and in the middle of a burst of accepted runs.
 */
const failover = MUTATING_RUNBOOKS.find((c) => c.runbook === 'failover-test')!;

describe('PostgreSQL drops the record of a mutating call that AWS carried out', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
  }, 90_000);
  afterAll(async () => {
    await killWorkers(h);
    await h?.close();
  }, 60_000);

  it('the answer is recorded once the database takes it again: the step succeeds with its request id, one call at AWS', async () => {
    await resetSandbox(h, failover);
    // The statement recording AWS's answer fails as a dropped connection does (DB_UNAVAILABLE); the
    // next ones work. Before, that one failure turned a failover AWS carried out into STEP_CRASHED.
    const worker = await h.startWorker({ RUNBOOKD_FAULT_INJECT: 'dbfail@aws:FailoverDBCluster:record-answer' });
    const runId = await startRun(h, failover);
    const run = await h.waitForRun(runId, undefined, 90_000);
    expect(logOf(h, worker)).toContain('dbfail at aws:FailoverDBCluster:record-answer');
    expect({ state: run.state, error: run.error?.code }).toEqual({ state: 'succeeded', error: undefined });
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    const step = run.steps.find((s: any) => s.id === 'failover');
    expect(step.output.resumed).toBe(false);
    expect(step.attempts).toBe(1);
    const audit = await auditOf(h, runId);
    expect(audit.filter((e) => e.kind === 'aws.response' && e.data.operation === 'FailoverDBCluster' && e.data.outcome === 'ok')).toHaveLength(1);
  }, 180_000);
});

/** A PostgreSQL cluster of the test's own (initdb as the postgres user), so it can be restarted. */
class PrivatePostgres {
  dir = '';
  port = 0;
  private readonly bin = path.join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().pop()!, 'bin');

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    if (!this.dir) {
      this.dir = mkdtempSync(path.join(tmpdir(), 'rbd-pg-'));
      execFileSync('chown', ['postgres:postgres', this.dir]);
      this.asPostgres('initdb', ['-D', path.join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
      this.port = await freePort();
    }
    this.asPostgres('pg_ctl', [
      '-D',
      path.join(this.dir, 'data'),
      '-w',
      '-l',
      path.join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off`,
      'start',
    ]);
  }

  stop(): void {
    this.asPostgres('pg_ctl', ['-D', path.join(this.dir, 'data'), '-w', '-m', 'fast', 'stop']);
  }

  remove(): void {
    try {
      this.stop();
    } catch {
      /* already stopped */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private asPostgres(tool: string, args: string[]): void {
    execFileSync('runuser', ['-u', 'postgres', '--', path.join(this.bin, tool), ...args], { stdio: 'ignore' });
  }
}

describe('PostgreSQL restarted mid-run (a private cluster)', () => {
  const pg = new PrivatePostgres();
  let h: Harness;
  beforeAll(async () => {
    await pg.start();
    h = await Harness.start({ role: 'api', env: { DATABASE_URL: pg.url } });
  }, 120_000);
  afterAll(async () => {
    await killWorkers(h);
    await h?.close();
    pg.remove();
  }, 60_000);

  it('a run whose database goes away for seconds after AWS acted resumes and ends once, with one call at AWS', async () => {
    await resetSandbox(h, failover);
    await h.startWorker();
    let armed = true;
    h.proxy.onRequest(
      'FailoverDBCluster',
      () => {
        if (!armed) return;
        armed = false;
        pg.stop();
        setTimeout(() => void pg.start(), 4_000);
      },
      'answered',
    );
    const runId = await startRun(h, failover);
    const run = await h.waitForRun(runId, undefined, 150_000);
    expect(armed).toBe(false);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    const audit = await auditOf(h, runId);
    expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
    expect((await h.request('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
  }, 240_000);
});

/** A Redis of the test's own with AOF (fsync always), so it can be SIGKILLed and brought back with its data. */
class PrivateRedis {
  private proc?: ChildProcess;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'rbd-redis-'));
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      { stdio: 'ignore' },
    );
    await eventually(
      async () => {
        const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await r.connect();
          return (await r.ping()) === 'PONG' ? true : undefined;
        } finally {
          r.disconnect();
        }
      },
      10_000,
      'private redis to answer',
    );
  }

  async kill(): Promise<void> {
    const p = this.proc!;
    p.kill('SIGKILL');
    if (p.exitCode === null && p.signalCode === null) await once(p, 'exit');
  }

  async remove(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('Redis SIGKILLed (AOF on) mid-run and mid-burst', () => {
  const redis = new PrivateRedis();
  let h: Harness;
  beforeAll(async () => {
    await redis.start();
    h = await Harness.start({ role: 'api', seed: false, runbooksDir: path.join(__dirname, '..', 'e2e', 'fixtures', 'sleep'), env: { REDIS_URL: redis.url } });
    await h.startWorker();
  }, 90_000);
  afterAll(async () => {
    await killWorkers(h);
    await endActiveRuns(h);
    await h?.close();
    await redis.remove();
  }, 60_000);

  it('every acknowledged run of a burst ends succeeded, and sleeping runs wake after Redis is back', async () => {
    const posts: Array<Promise<{ status: number; body: any }>> = [];
    for (let i = 0; i < 20; i++) {
      posts.push(h.request('POST', '/v1/runbooks/sleepy/runs', { key: h.keys.operator, body: { reason: `burst ${i}` } }));
      if (i === 9) {
        // Half the burst is in; the other half arrives while Redis is dead.
        await Promise.all(posts);
        await redis.kill();
      }
    }
    setTimeout(() => void redis.start(), 2_000);
    const answers = await Promise.all(posts);
    const accepted = answers.filter((a) => a.status === 202).map((a) => a.body.id as string);
    // Acknowledged means recorded: every 202 must become a finished run.
    expect(answers.every((a) => a.status === 202 || a.status >= 500)).toBe(true);
    expect(accepted.length).toBeGreaterThanOrEqual(10);
    for (const id of accepted) {
      const run = await h.waitForRun(id, undefined, 120_000);
      expect(run.state).toBe('succeeded');
    }
  }, 300_000);
});
