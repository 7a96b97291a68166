import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  /** postgres:// URL of a fresh, empty database that only this caller uses. */
  url: string;
  drop(): Promise<void>;
}

export const TEST_POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';

/**
 * One database per suite (not a schema, not a transaction) so migrations run exactly as in
 * production and parallel Jest workers cannot see each other's rows.
 */
export async function createTestDatabase(server: string = TEST_POSTGRES_SERVER): Promise<TestDatabase> {
  const name = `runbookd_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  // CREATE DATABASE cannot name the database it is issued from, so it goes through `test`.
  await withAdmin(server, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(server);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE: a pool the test forgot to end must not keep the database alive.
      await withAdmin(server, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(server: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const url = new URL(server);
  url.pathname = '/test';
  const client = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${server} (${(e as Error).message}); run RUNBOOKD_NEED_POSTGRES=1 scripts/sandbox/ensure-services.sh`, {
      cause: e,
    });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
