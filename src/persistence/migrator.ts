import { Database } from './database';
import { MIGRATION_LIST } from './migration-list';
import { MigrationError } from './migration.error';
import { Migration, MigrationList } from './migration.types';

/** Arbitrary constant naming the migration advisory lock. */
const MIGRATION_LOCK = 727_001;

/**
 * Applies pending migrations in ascending version order, one transaction each, under an advisory
 * lock so replicas that boot together do not race. Returns the versions it applied.
 *
 * A database is judged by the versions it records, never by how many rows or in which order:
 * one migrated when the list was applied by position is complete here too. Refused before
 * anything is applied: a list with a gap, a duplicate or a version out of order. Refused before
 * a migration is applied: a database that already holds a higher version than it (applying it
 * now would run it after migrations written to follow it).
 */
export async function migrate(db: Database, list: MigrationList = MIGRATION_LIST): Promise<number[]> {
  checkMigrationList(list);
  // Under the lock too: two replicas booting on an empty database both run CREATE TABLE IF NOT
  // EXISTS otherwise, and the loser fails on pg_type's unique index (IF NOT EXISTS is not atomic).
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const applied: number[] = [];
  for (const m of list.migrations) {
    const did = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      const recorded = rows.map((r) => Number(r.version));
      if (recorded.includes(m.version)) return false;
      const higher = recorded.filter((v) => v > m.version);
      if (higher.length > 0) {
        throw new MigrationError(
          'MIGRATION_OUT_OF_ORDER',
          `migration ${m.version} (${m.name}) is pending but the database already holds version${higher.length > 1 ? 's' : ''} ${higher.join(', ')}`,
          { version: m.version, recorded },
        );
      }
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (did) applied.push(m.version);
  }
  return applied;
}

/**
 * Throws a MigrationError naming the versions at fault unless the list is 1, 2, 3, ... in that
 * order (less the unused numbers). Duplicates are looked for first, then the order, then gaps, so
 * a list that is only shuffled is reported as out of order rather than as missing a version.
 */
export function checkMigrationList(list: MigrationList): void {
  const unused = new Set(list.unused);
  const byVersion = new Map<number, Migration>();
  for (const m of list.migrations) {
    if (!Number.isInteger(m.version) || m.version < 1) {
      throw new MigrationError('MIGRATION_OUT_OF_ORDER', `migration version ${m.version} (${m.name}) is not a positive integer`, { version: m.version });
    }
    const twin = byVersion.get(m.version);
    if (twin) {
      throw new MigrationError('MIGRATION_DUPLICATE', `migration version ${m.version} is claimed twice: "${twin.name}" and "${m.name}"`, {
        version: m.version,
        names: [twin.name, m.name],
      });
    }
    byVersion.set(m.version, m);
    if (unused.has(m.version)) {
      throw new MigrationError(
        'MIGRATION_OUT_OF_ORDER',
        `migration version ${m.version} (${m.name}) is one of the numbers left unused (${list.unused.join(', ')}): ` +
          'databases already hold the versions above it',
        { version: m.version },
      );
    }
  }
  let previous = 0;
  for (const m of list.migrations) {
    if (m.version < previous) {
      throw new MigrationError('MIGRATION_OUT_OF_ORDER', `migration version ${m.version} (${m.name}) is listed after version ${previous}`, {
        version: m.version,
        after: previous,
      });
    }
    previous = m.version;
  }
  previous = 0;
  for (const m of list.migrations) {
    const missing: number[] = [];
    for (let v = previous + 1; v < m.version; v++) if (!unused.has(v)) missing.push(v);
    if (missing.length > 0) {
      throw new MigrationError('MIGRATION_GAP', `migration version ${m.version} (${m.name}) follows version ${previous}: ${missing.join(', ')} missing`, {
        version: m.version,
        after: previous,
        missing,
      });
    }
    previous = m.version;
  }
}

/**
 * Splits a migration into statements (extended-protocol queries take one at a time), keeping
 * dollar-quoted function bodies whole.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (/^\s*--/.test(line)) continue;
    const dollars = (line.match(/\$fn\$/g) ?? []).length;
    if (dollars % 2 === 1) inDollar = !inDollar;
    current += line + '\n';
    if (!inDollar && /;\s*$/.test(line)) {
      if (current.trim()) out.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}
