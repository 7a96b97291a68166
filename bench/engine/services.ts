import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import { Client } from 'pg';

/** The local services a benchmark runs against; override with BENCH_POSTGRES_URL / BENCH_REDIS_URL. */
export const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Names carry the pid so a later bench can tell a killed bench's leftovers from a live one's. */
const DB_PREFIX = 'runbookd_bench_';
const QUEUE_PREFIX = 'rbbench-';

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the local server, dropped (WITH FORCE) by `drop()`. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `${DB_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(PG_SERVER);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(async (c) => {
        // pg's Pool.end() resolves before its sockets have closed; terminating those backends
        // would make the closed pool log "idle connection lost". Give them a moment to go.
        for (let i = 0; i < 40; i++) {
          const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}

export function uniqueQueuePrefix(): string {
  return `${QUEUE_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Runs `fn` with a connection to the server's `test` database (CREATE/DROP DATABASE go through it). */
export async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const url = new URL(PG_SERVER);
  url.pathname = '/test';
  const c = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG_SERVER} (${(err as Error).message}); set BENCH_POSTGRES_URL or start it (scripts/sandbox/ensure-services.sh)`,
      {
        cause: err,
      },
    );
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function withRedis<T>(fn: (r: IORedis) => Promise<T>): Promise<T> {
  const redis = new IORedis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis is not reachable at ${REDIS_URL} (${(err as Error).message}); set BENCH_REDIS_URL or start it`, { cause: err });
  }
  try {
    return await fn(redis);
  } finally {
    await redis.quit();
  }
}

/** Deletes every key under `<prefix>:`; returns how many. */
export async function flushPrefix(prefix: string): Promise<number> {
  return withRedis(async (redis) => {
    let deleted = 0;
    for (const keys of await scanAll(redis, `${prefix}:*`)) deleted += await redis.unlink(...keys);
    return deleted;
  });
}

/** SCAN, not KEYS: the server may be shared with a demo or test suites. */
async function scanAll(redis: IORedis, pattern: string): Promise<string[][]> {
  const batches: string[][] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) batches.push(keys);
  } while (cursor !== '0');
  return batches;
}

/** Removes databases and queue keys left by a bench that was killed (its pid no longer exists). */
export async function sweepLeftovers(): Promise<void> {
  const dead = (pid: number) => {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  await withAdmin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${DB_PREFIX}%'`);
    for (const { datname } of rows) {
      if (dead(Number(datname.slice(DB_PREFIX.length).split('_')[0]))) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  });
  await withRedis(async (redis) => {
    for (const keys of await scanAll(redis, `${QUEUE_PREFIX}*`)) {
      const stale = keys.filter((k) => dead(Number(k.slice(QUEUE_PREFIX.length).split('-')[0])));
      if (stale.length > 0) await redis.unlink(...stale);
    }
  });
}

/** Connections to this server from anything but the given databases: other work sharing the machine. */
export async function otherPostgresActivity(excludeDatabases: string[]): Promise<{ connections: number; active: number }> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ connections: number; active: number }>(
      `SELECT count(*)::int AS connections, count(*) FILTER (WHERE state = 'active')::int AS active
       FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
         AND NOT (datname = ANY($1))`,
      [excludeDatabases],
    );
    return rows[0];
  });
}

/**
 * CPU (ms, user + system, from /proc) used so far by each PostgreSQL backend serving `database`:
 * the database's share of the work, which no other tenant of the server inflates. Linux only;
 * an empty map elsewhere.
 */
export async function postgresBackendCpuMs(
  watcher: { query: (sql: string, params: unknown[]) => Promise<{ rows: { pid: number }[] }> },
  database: string,
): Promise<Map<number, number>> {
  const { rows } = await watcher.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [database]);
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = processCpuMs(pid);
    if (ms !== undefined) out.set(pid, ms);
  }
  return out;
}

/** User + system CPU a process has used so far (Linux /proc), or undefined (not Linux, or it exited). */
export function processCpuMs(pid: number): number | undefined {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Busy CPU of the whole machine so far, all cores (Linux /proc/stat), in ms. */
export function machineBusyMs(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
    return ((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU the backends used between two `postgresBackendCpuMs` readings (a backend opened in between counts whole). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}
