import { Client } from 'pg';
import { loadConfig } from '../../src/config/app.config';
import { Database } from '../../src/persistence/database';
import { openDatabase } from '../../src/persistence/database.provider';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * One slow statement must not stall the process: every connection the service opens carries a
 * statement_timeout and a lock_timeout, and what trips them (or a connection that dies under a
 * statement) reaches the caller as a coded, retryable DatabaseError instead of a hang.
 * Real PostgreSQL: the timeouts are the server's own.
 */
describe('PostgreSQL statement and lock timeouts', () => {
  let tdb: TestDatabase;
  let db: Database;
  let other: Client;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = await openDatabase(
      loadConfig({
        DATABASE_URL: tdb.url,
        RUNBOOKD_DB_STATEMENT_TIMEOUT_MS: '800',
        RUNBOOKD_DB_LOCK_TIMEOUT_MS: '400',
      }),
    );
    await db.query('CREATE TABLE t_lock (id int PRIMARY KEY, v int)');
    await db.query('INSERT INTO t_lock VALUES (1, 0)');
    other = new Client({ connectionString: tdb.url });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end().catch(() => undefined);
    await db?.close();
    await tdb?.drop();
  });

  /** Runs `fn`, returning what it threw (or 'resolved') and how long it took. */
  async function outcome(fn: () => Promise<unknown>): Promise<{ error: any; ms: number }> {
    const t0 = Date.now();
    try {
      await fn();
      return { error: 'resolved', ms: Date.now() - t0 };
    } catch (error) {
      return { error, ms: Date.now() - t0 };
    }
  }

  it('a statement blocked by a row lock another session holds fails with DB_TIMEOUT, not a wait', async () => {
    await other.query('BEGIN');
    await other.query('SELECT * FROM t_lock WHERE id = 1 FOR UPDATE');
    // The holder lets go after 6 s: without a lock_timeout the update would simply wait that long.
    const release = setTimeout(() => void other.query('ROLLBACK'), 6_000);
    try {
      const { error, ms } = await outcome(() => db.query('UPDATE t_lock SET v = v + 1 WHERE id = 1'));
      expect(error).toMatchObject({ name: 'DatabaseError', code: 'DB_TIMEOUT', retryable: true, details: { sqlState: '55P03' } });
      expect(ms).toBeLessThan(5_000);
      // Inside a transaction too, and the pool is usable afterwards.
      const inTx = await outcome(() => db.transaction((tx) => tx.query('UPDATE t_lock SET v = v + 1 WHERE id = 1')));
      expect(inTx.error).toMatchObject({ code: 'DB_TIMEOUT' });
    } finally {
      clearTimeout(release);
      await other.query('ROLLBACK');
    }
    expect(await db.query<{ v: number }>('SELECT v FROM t_lock WHERE id = 1')).toEqual([{ v: 0 }]);
  }, 20_000);

  it('a statement running past statement_timeout is cancelled with DB_TIMEOUT', async () => {
    const { error, ms } = await outcome(() => db.query('SELECT pg_sleep(5)'));
    expect(error).toMatchObject({ name: 'DatabaseError', code: 'DB_TIMEOUT', retryable: true, details: { sqlState: '57014' } });
    expect(ms).toBeLessThan(4_000);
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 20_000);

  it('a connection lost under a statement is DB_UNAVAILABLE, and the next statement gets a fresh connection', async () => {
    const sleeping = outcome(() => db.query("SELECT pg_sleep(0.7), 'victim' AS tag"));
    // Find the backend running it and kill it, as a failover or a server restart would.
    let pid: number | undefined;
    for (let i = 0; i < 50 && pid === undefined; i++) {
      const rows = await other.query("SELECT pid FROM pg_stat_activity WHERE query LIKE '%''victim'' AS tag%' AND pid <> pg_backend_pid()");
      pid = rows.rows[0]?.pid;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(pid).toBeDefined();
    await other.query('SELECT pg_terminate_backend($1)', [pid]);
    const { error } = await sleeping;
    expect(error).toMatchObject({ name: 'DatabaseError', code: 'DB_UNAVAILABLE', retryable: true });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 20_000);
});
