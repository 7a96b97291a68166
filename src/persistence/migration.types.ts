/**
 * One schema migration: a file of its own under `migrations/`, named by its version
 * (`0012-audit-sealing.migration.ts`). The same SQL runs on PostgreSQL and PGlite. Never edit a
 * migration that has shipped: add the next version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** What the migrator applies: the migrations in ascending version order, and the numbers history skipped. */
export interface MigrationList {
  migrations: readonly Migration[];
  /**
   * Versions that were never used and never will be. The migrator refuses any other gap, and
   * refuses one of these as a migration: it would come after databases that already hold the
   * versions above it.
   */
  unused: readonly number[];
}
