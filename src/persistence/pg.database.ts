import { Logger } from '@nestjs/common';
import { Pool, types } from 'pg';
import { Database, Queryable } from './database';

// bigint (int8) as a JS number: sequence numbers and counts stay far below 2^53.
types.setTypeParser(20, (v) => Number(v));

export class PgDatabase extends Database {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;

  constructor(url: string, max = 10) {
    super();
    this.pool = new Pool({ connectionString: url, max });
    // An idle connection the server drops emits 'error' on the pool; unhandled, it would kill the process.
    this.pool.on('error', (err) => new Logger('Database').warn(`idle connection lost: ${err.message}`));
  }

  async query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.pool.query(sql, params as unknown[]);
    return res.rows as T[];
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const tx: Queryable = {
        query: async <R>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params as unknown[])).rows as R[],
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
