import { Logger } from '@nestjs/common';
import { Pool, types } from 'pg';
import { Database, Queryable } from './database';
import { toDatabaseError } from './database.error';

// bigint (int8) as a JS number: sequence numbers and counts stay far below 2^53.
types.setTypeParser(20, (v) => Number(v));

export interface PgPoolOptions {
  /** Most connections this process opens (see `database.poolMax` in the config for the formula). */
  max: number;
  /** Server-side limit per statement; 0 turns it off. */
  statementTimeoutMs: number;
  /** Server-side limit on waiting for any lock (row, table, advisory); 0 turns it off. */
  lockTimeoutMs: number;
  /** How long to wait for a connection, new or from the pool, before DB_UNAVAILABLE. */
  connectTimeoutMs: number;
}

/**
 * Slack on top of statement_timeout before the client gives up on an answer itself: the server
 * cancels first; the client timeout only catches a server that stopped answering at all (a
 * partition), which statement_timeout, being the server's, cannot.
 */
const CLIENT_READ_SLACK_MS = 5_000;

/**
 * Parameterised statements are sent as named prepared statements, so each connection parses and
 * plans a statement's text once rather than at every call: on the engine's hot path that is a
 * third of PostgreSQL's CPU per step (docs/performance.md). Texts built per call (a VALUES list
 * of N rows) would grow every connection's cache without end, so only the first this many
 * distinct texts get a name; the rest run unnamed, as before.
 */
const MAX_NAMED_STATEMENTS = 500;

export class PgDatabase extends Database {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private readonly statementNames = new Map<string, string>();

  /** A bare number is the pool size alone (tools and benches); the service passes every option from its config. */
  constructor(url: string, options: Partial<PgPoolOptions> | number = {}) {
    super();
    const opts: PgPoolOptions = {
      max: 10,
      statementTimeoutMs: 0,
      lockTimeoutMs: 0,
      connectTimeoutMs: 0,
      ...(typeof options === 'number' ? { max: options } : options),
    };
    this.pool = new Pool({
      connectionString: url,
      max: opts.max,
      ...(opts.connectTimeoutMs > 0 ? { connectionTimeoutMillis: opts.connectTimeoutMs } : {}),
      // Sent as startup parameters: every connection the pool opens carries them, and a SET in
      // one transaction cannot leak them away (SET LOCAL ends with its transaction).
      ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs, query_timeout: opts.statementTimeoutMs + CLIENT_READ_SLACK_MS } : {}),
      ...(opts.lockTimeoutMs > 0 ? { lock_timeout: opts.lockTimeoutMs } : {}),
    });
    // An idle connection the server drops emits 'error' on the pool; unhandled, it would kill the process.
    this.pool.on('error', (err) => new Logger('Database').warn(`idle connection lost: ${err.message}`));
  }

  async query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    try {
      const res = await this.pool.query(this.statement(sql, params));
      return res.rows as T[];
    } catch (err) {
      throw toDatabaseError(err) ?? err;
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toDatabaseError(err) ?? err;
    }
    let broken: unknown;
    // The pool listens for errors only on idle connections: one that dies while checked out (a
    // server restart between two statements of this transaction) would emit 'error' with no
    // listener and take the process down. Here it only marks the connection broken.
    const onError = (err: Error) => {
      broken ??= err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const tx: Queryable = {
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          try {
            return (await client.query(this.statement(sql, params))).rows as R[];
          } catch (err) {
            const coded = toDatabaseError(err);
            // A connection that failed under a statement goes back destroyed, not to the pool.
            if (coded?.code === 'DB_UNAVAILABLE') broken = err;
            throw coded ?? err;
          }
        },
      };
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => (broken ??= e));
      throw toDatabaseError(err) ?? err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  private statement(text: string, params: readonly unknown[]): { text: string; values: unknown[]; name?: string } {
    const values = params as unknown[];
    // A statement without parameters goes by the simple protocol (several statements, BEGIN, COMMIT).
    if (values.length === 0) return { text, values };
    let name = this.statementNames.get(text);
    if (!name && this.statementNames.size < MAX_NAMED_STATEMENTS) {
      name = `rbd_${this.statementNames.size + 1}`;
      this.statementNames.set(text, name);
    }
    return name ? { name, text, values } : { text, values };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
