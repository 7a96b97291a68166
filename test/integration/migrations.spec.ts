// PGlite's CommonJS build (index.cjs) calls import() natively, which Jest refuses without
// --experimental-vm-modules, and the jest config transforms .js/.mjs but not .cjs. Its ESM build
// goes through SWC like the rest of node_modules. Remove once jest.config.js transforms .cjs.
jest.mock('@electric-sql/pglite', () =>
  jest.requireActual(jest.requireActual<typeof import('node:path')>('node:path').join(__dirname, '../../node_modules/@electric-sql/pglite/dist/index.js')),
);

import { Database } from '../../src/persistence/database';
import { MIGRATION_LIST } from '../../src/persistence/migration-list';
import { MigrationError } from '../../src/persistence/migration.error';
import { Migration, MigrationList } from '../../src/persistence/migration.types';
import { migrate, splitStatements } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { PgliteDatabase } from '../../src/persistence/pglite.database';
import { createTestDatabase, TestDatabase } from '../support/database';

/** The order the list was applied in before versions were compared: by position in one array. */
const LEGACY_ORDER = [1, 2, 3, 4, 11, 15, 14, 12];
/** Versions added since versions are compared: a legacy database gets exactly these on top, in order. */
const LATER = MIGRATION_LIST.migrations.map((m) => m.version).filter((v) => v > Math.max(...LEGACY_ORDER));

/** The migrator as it was before (position order, no checks), kept here to make databases the way it made them. */
async function legacyMigrate(db: Database, migrations: readonly Migration[]): Promise<number[]> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [727_001]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const applied: number[] = [];
  for (const m of migrations) {
    const did = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [727_001]);
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (done.length > 0) return false;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (did) applied.push(m.version);
  }
  return applied;
}

const byVersion = (v: number): Migration => {
  const m = MIGRATION_LIST.migrations.find((x) => x.version === v);
  if (!m) throw new Error(`no migration ${v}`);
  return m;
};

/** Everything a migration can make, in a form two databases can be compared by. */
async function schemaOf(db: Database): Promise<unknown> {
  return {
    columns: await db.query(`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default
      FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`),
    indexes: await db.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`),
    constraints: await db.query(`SELECT c.conrelid::regclass::text AS on_table, c.conname, pg_get_constraintdef(c.oid) AS def
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' ORDER BY on_table, c.conname`),
    triggers: await db.query(`SELECT t.tgrelid::regclass::text AS on_table, t.tgname, pg_get_triggerdef(t.oid) AS def
      FROM pg_trigger t WHERE NOT t.tgisinternal ORDER BY on_table, t.tgname`),
    functions: await db.query(`SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' ORDER BY p.proname`),
    sequences: await db.query(`SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename`),
  };
}

const recorded = (db: Database) =>
  db.query<{ version: number; name: string; applied_at: Date }>('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');

async function refusalOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MigrationError);
  return { code: (e as MigrationError).code, message: (e as MigrationError).message };
}

const tiny = (version: number): Migration => ({ version, name: `t${version}`, sql: `CREATE TABLE t${version} (id integer);` });

describe('migrations one per file, by version, on PostgreSQL', () => {
  const opened: Database[] = [];
  const databases: TestDatabase[] = [];

  async function fresh(): Promise<Database> {
    const t = await createTestDatabase();
    databases.push(t);
    const db = new PgDatabase(t.url, 2);
    opened.push(db);
    return db;
  }

  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await Promise.all(databases.map((t) => t.drop()));
  });

  it('boots a database migrated by position (1, 2, 3, 4, 11, 15, 14, 12): nothing re-applied, nothing missing', async () => {
    const legacy = await fresh();
    expect(await legacyMigrate(legacy, LEGACY_ORDER.map(byVersion))).toEqual(LEGACY_ORDER);
    const before = await recorded(legacy);

    expect(await migrate(legacy)).toEqual(LATER);
    // Same rows, same applied_at: nothing was applied again.
    expect((await recorded(legacy)).filter((r) => LEGACY_ORDER.includes(r.version))).toEqual(before);

    // And the schema is the one a fresh database gets in ascending order.
    const current = await fresh();
    expect(await migrate(current)).toEqual([1, 2, 3, 4, 11, 12, 14, 15, ...LATER]);
    expect(await schemaOf(legacy)).toEqual(await schemaOf(current));
    expect((await recorded(current)).map((r) => [r.version, r.name])).toEqual((await recorded(legacy)).map((r) => [r.version, r.name]));
  });

  it('applies a migration added on top to a database migrated by position, and only that one', async () => {
    const legacy = await fresh();
    await legacyMigrate(legacy, LEGACY_ORDER.map(byVersion));
    const next = MIGRATION_LIST.migrations[MIGRATION_LIST.migrations.length - 1].version + 1;
    const onTop: MigrationList = { ...MIGRATION_LIST, migrations: [...MIGRATION_LIST.migrations, tiny(next)] };
    expect(await migrate(legacy, onTop)).toEqual([...LATER, next]);
    expect(await legacy.query(`SELECT count(*)::int AS n FROM t${next}`)).toEqual([{ n: 0 }]);
  });

  it('refuses a pending migration below a version the database holds, and applies nothing', async () => {
    const db = await fresh();
    // A database that holds 1 and 3 (2 was marked unused when it was migrated) ...
    expect(await migrate(db, { migrations: [tiny(1), tiny(3)], unused: [2] })).toEqual([1, 3]);
    // ... meets a list where 2 exists after all.
    expect(await refusalOf(migrate(db, { migrations: [tiny(1), tiny(2), tiny(3)], unused: [] }))).toEqual({
      code: 'MIGRATION_OUT_OF_ORDER',
      message: 'migration 2 (t2) is pending but the database already holds version 3',
    });
    expect(await db.query(`SELECT to_regclass('t2') AS t`)).toEqual([{ t: null }]);
    expect((await recorded(db)).map((r) => r.version)).toEqual([1, 3]);
  });

  it('refuses a list with a gap or a duplicate before touching the database', async () => {
    const db = await fresh();
    expect(await refusalOf(migrate(db, { migrations: [tiny(1), tiny(3)], unused: [] }))).toEqual({
      code: 'MIGRATION_GAP',
      message: 'migration version 3 (t3) follows version 1: 2 missing',
    });
    expect((await refusalOf(migrate(db, { migrations: [tiny(1), tiny(2), tiny(2)], unused: [] }))).code).toBe('MIGRATION_DUPLICATE');
    expect((await refusalOf(migrate(db, { migrations: [tiny(2), tiny(1)], unused: [] }))).code).toBe('MIGRATION_OUT_OF_ORDER');
    expect(await db.query(`SELECT to_regclass('schema_migrations') AS t, to_regclass('t1') AS t1`)).toEqual([{ t: null, t1: null }]);
  });

  it('boots a database that is ahead of this code (a newer replica migrated it) without refusing', async () => {
    const db = await fresh();
    await migrate(db, { migrations: [tiny(1), tiny(2)], unused: [] });
    expect(await migrate(db, { migrations: [tiny(1)], unused: [] })).toEqual([]);
  });
});

/** The embedded default keeps its data folder across upgrades too (one instance: PGlite takes seconds to start). */
describe('migrations by version on PGlite', () => {
  let db: PgliteDatabase | undefined;
  afterAll(async () => {
    await db?.close();
  });

  it('boots a data folder migrated by position: nothing re-applied, every version recorded', async () => {
    db = await PgliteDatabase.open(undefined);
    expect(await legacyMigrate(db, LEGACY_ORDER.map(byVersion))).toEqual(LEGACY_ORDER);
    const before = await recorded(db);
    expect(await migrate(db)).toEqual(LATER);
    expect((await recorded(db)).filter((r) => LEGACY_ORDER.includes(r.version))).toEqual(before);
    expect(before.map((r) => r.version)).toEqual([...LEGACY_ORDER].sort((a, b) => a - b));
  });
});
