/**
 * The database seen by repositories: plain SQL with $1 parameters, identical on PostgreSQL and
 * PGlite. Repositories take a `Queryable` so the same code runs inside or outside a transaction.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export abstract class Database implements Queryable {
  abstract readonly kind: 'postgres' | 'pglite';
  abstract query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  abstract transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  abstract close(): Promise<void>;
}

/** PostgreSQL's SQLSTATE for unique_violation, surfaced the same way by pg and PGlite. */
export const UNIQUE_VIOLATION = '23505';

export function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

export function constraintName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'constraint' in error
    ? String((error as { constraint: unknown }).constraint)
    : undefined;
}

/**
 * Errors that say the database was away or busy for a moment, not that the statement was wrong:
 * connection loss, a server shutting down or failing over, a statement or lock timeout, a
 * serialization failure or deadlock. Worth writing again after a pause.
 */
const TRANSIENT_SQLSTATE = /^(08|57P0|53|40001|40P01|57014|55P03)/;
const TRANSIENT_NETWORK = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection terminated|connection .*(closed|ended)|Client has encountered a connection error|timeout exceeded when trying to connect/i;

export function isTransientDatabaseError(error: unknown): boolean {
  const state = sqlState(error);
  if (state && TRANSIENT_SQLSTATE.test(state)) return true;
  const message = typeof error === 'object' && error !== null && 'message' in error ? String((error as { message: unknown }).message) : '';
  return TRANSIENT_NETWORK.test(message) || (state !== undefined && /^E[A-Z]+$/.test(state) && TRANSIENT_NETWORK.test(state));
}
