import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { Database, Queryable } from './database';

/**
 * The embedded default: a real PostgreSQL compiled to WebAssembly, in a folder on disk, so a
 * newcomer needs no database server. One connection, so statements are serialised in-process.
 */
export class PgliteDatabase extends Database {
  readonly kind = 'pglite' as const;

  private constructor(private readonly db: PGlite) {
    super();
  }

  static async open(dir: string | undefined): Promise<PgliteDatabase> {
    const { PGlite } = await import('@electric-sql/pglite');
    if (dir) mkdirSync(dir, { recursive: true });
    return new PgliteDatabase(await PGlite.create(dir));
  }

  async query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.db.query<T>(sql, params as unknown[]);
    return res.rows;
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(async (t) =>
      fn({ query: async <R>(sql: string, params: readonly unknown[] = []) => (await t.query<R>(sql, params as unknown[])).rows }),
    );
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
