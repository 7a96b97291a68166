import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app.config';
import { seedSandbox } from '../../scripts/sandbox/seed-estate';
import { createTestDatabase, TestDatabase } from './database';
import { MotoServer, startMoto } from './moto';
import { RecordingProxy, startRecordingProxy } from './recording-proxy';
import { flushPrefix, uniqueQueuePrefix } from './redis';

export const ROOT = path.resolve(__dirname, '..', '..');
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const REGION = 'eu-west-1';

export interface Keys {
  viewer: string;
  operator: string;
  admin: string;
}

export interface HarnessOptions {
  /** What runs inside the test process: the API alone (workers are child processes) or everything. */
  role: 'api' | 'all';
  runbooksDir?: string;
  env?: Record<string, string>;
  seed?: boolean;
  /** Run on the embedded PGlite database (the default when DATABASE_URL is unset) instead of PostgreSQL. */
  pglite?: boolean;
  /** More API keys, as `name:role:sha256-of-key` entries (a second operator, say). */
  extraApiKeys?: string[];
  /**
   * RUNBOOKD_POLICY: a file path, or `default` for none (the built-in rules). Unset: a policy
   * without approval rules (test/support/fixtures/no-approval-rules.policy.yaml), see there why.
   */
  policy?: string;
  /** Listen on this port instead of a free one (a URL that must be known before boot: an OIDC redirect URL). */
  port?: number;
}

export const NO_APPROVAL_RULES_POLICY = path.join(ROOT, 'test', 'support', 'fixtures', 'no-approval-rules.policy.yaml');

/**
 * A runbookd for one test file: its own PostgreSQL database, queue prefix, moto server and
 * recording proxy in front of moto (so tests count the AWS calls that really went out), API keys
 * for each role, and worker processes it can start and SIGKILL.
 */
export class Harness {
  app!: NestFastifyApplication;
  baseUrl!: string;
  db!: TestDatabase;
  moto!: MotoServer;
  proxy!: RecordingProxy;
  prefix = uniqueQueuePrefix('e2e');
  keys!: Keys;
  env: Record<string, string> = {};
  readonly workers: ChildProcess[] = [];
  readonly workerLogs = new Map<ChildProcess, string[]>();

  static async start(opts: HarnessOptions): Promise<Harness> {
    const h = new Harness();
    await h.boot(opts);
    return h;
  }

  private async boot(opts: HarnessOptions): Promise<void> {
    [this.db, this.moto] = await Promise.all([createTestDatabase(), startMoto()]);
    this.proxy = await startRecordingProxy(this.moto.endpoint);
    if (opts.seed !== false) await seedSandbox({ endpoint: this.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const raw = {
      viewer: `rbd_v_${randomBytes(12).toString('hex')}`,
      operator: `rbd_o_${randomBytes(12).toString('hex')}`,
      admin: `rbd_a_${randomBytes(12).toString('hex')}`,
    };
    this.keys = raw;
    const sha = (k: string) => createHash('sha256').update(k).digest('hex');
    this.env = {
      NODE_ENV: 'test',
      ...(opts.pglite ? { RUNBOOKD_PGLITE_DIR: path.join(ROOT, '.runbookd', 'test', this.prefix, 'db') } : { DATABASE_URL: this.db.url }),
      REDIS_URL,
      RUNBOOKD_QUEUE_PREFIX: this.prefix,
      RUNBOOKD_RUNBOOKS_DIR: opts.runbooksDir ?? path.join(ROOT, 'runbooks'),
      RUNBOOKD_API_KEYS: `vera:viewer:${sha(raw.viewer)},otto:operator:${sha(raw.operator)},ada:admin:${sha(raw.admin)}${(opts.extraApiKeys ?? []).map((k) => `,${k}`).join('')}`,
      RUNBOOKD_STATE_DIR: path.join(ROOT, '.runbookd', 'test', this.prefix),
      AWS_ENDPOINT_URL: this.proxy.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // moto answers no percentile statistic (GetMetricData with p95 is a 500).
      RUNBOOKD_CAPACITY_STATISTICS: 'local',
      RUNBOOKD_WORKER_LOCK_MS: '2000',
      RUNBOOKD_WORKER_STALLED_INTERVAL_MS: '1000',
      RUNBOOKD_RECONCILE_INTERVAL_MS: '1000',
      RUNBOOKD_LOG_LEVEL: 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
      // Every spec signs in from 127.0.0.1, many with wrong keys on purpose; sign-in-limits.e2e.spec.ts puts the real limits back.
      RUNBOOKD_SIGN_IN_ADDRESS_FAILURES: '100000',
      RUNBOOKD_SIGN_IN_KEY_FAILURES: '100000',
      ...(opts.policy === 'default' ? {} : { RUNBOOKD_POLICY: opts.policy ?? NO_APPROVAL_RULES_POLICY }),
      ...(opts.env ?? {}),
    };
    const config = loadConfig({ ...this.env, RUNBOOKD_ROLE: opts.role });
    this.app = await createApp(config);
    await this.app.listen(opts.port ?? 0, '127.0.0.1');
    this.baseUrl = await this.app.getUrl();
  }

  /** Starts a worker as its own process (the built dist/main.js), so a test can SIGKILL it. */
  spawnWorker(extraEnv: Record<string, string> = {}): ChildProcess {
    const main = path.join(ROOT, 'dist', 'main.js');
    if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '', ...this.env, RUNBOOKD_ROLE: 'worker', RUNBOOKD_LOG_LEVEL: 'log', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    child.stdout.on('data', (d) => log.push(String(d)));
    child.stderr.on('data', (d) => log.push(String(d)));
    this.workers.push(child);
    this.workerLogs.set(child, log);
    return child;
  }

  /** Resolves when a worker process says it is consuming the queue. */
  async workerReady(child: ChildProcess, timeoutMs = 60_000): Promise<void> {
    await eventually(() => ((this.workerLogs.get(child) ?? []).join('').includes('runbookd worker started') ? true : undefined), timeoutMs);
  }

  /** Starts a worker process and waits until it consumes the queue; says what it logged if it never does. */
  async startWorker(env: Record<string, string> = {}): Promise<ChildProcess> {
    const child = this.spawnWorker(env);
    try {
      // A worker that exits during boot (a bad build, a config error) fails the test at once.
      const died = once(child, 'exit').then(() => Promise.reject(new Error('worker exited during boot')));
      died.catch(() => undefined);
      await Promise.race([this.workerReady(child), died]);
    } catch (err) {
      const status = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : 'still running';
      throw new Error(`${(err as Error).message}; worker ${status}, it said:\n${(this.workerLogs.get(child) ?? []).join('')}`, { cause: err });
    }
    return child;
  }

  kill(child: ChildProcess): void {
    child.kill('SIGKILL');
  }

  async request<T = any>(
    method: string,
    url: string,
    opts: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: T; text: string; headers: Headers }> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const key = opts.key === undefined ? this.keys.admin : opts.key;
    if (key) headers.authorization = `Bearer ${key}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${url}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON (markdown, html) */
    }
    return { status: res.status, body, text, headers: res.headers };
  }

  /** Polls the run until it reaches one of the given states. */
  async waitForRun(runId: string, states: string[] = ['succeeded', 'failed', 'aborted', 'cancelled'], timeoutMs = 45_000): Promise<any> {
    return eventually(
      async () => {
        const r = await this.request('GET', `/v1/runs/${runId}`);
        return states.includes(r.body.state) ? r.body : undefined;
      },
      timeoutMs,
      `run ${runId} to reach ${states.join('|')}`,
    );
  }

  async close(): Promise<void> {
    for (const w of this.workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await this.app?.close().catch(() => undefined);
    await this.proxy?.stop().catch(() => undefined);
    await this.moto?.stop().catch(() => undefined);
    await flushPrefix(REDIS_URL, this.prefix).catch(() => undefined);
    await this.db?.drop().catch(() => undefined);
    await rm(path.join(ROOT, '.runbookd', 'test', this.prefix), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Resolves when the process has exited (at once if it already has). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

/** Retries `probe` until it returns something other than undefined. */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
