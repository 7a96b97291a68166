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
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

export function constraintName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'constraint' in error ? String(error.constraint) : undefined;
}
