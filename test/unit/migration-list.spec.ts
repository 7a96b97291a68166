import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATION_LIST } from '../../src/persistence/migration-list';
import { MigrationError } from '../../src/persistence/migration.error';
import { Migration, MigrationList } from '../../src/persistence/migration.types';
import { checkMigrationList } from '../../src/persistence/migrator';

const m = (version: number): Migration => ({ version, name: `m${version}`, sql: `CREATE TABLE t${version} (id int);` });
const list = (versions: number[], unused: number[] = []): MigrationList => ({ migrations: versions.map(m), unused });

function refusal(l: MigrationList): { code: string; message: string } {
  try {
    checkMigrationList(l);
  } catch (e) {
    expect(e).toBeInstanceOf(MigrationError);
    return { code: (e as MigrationError).code, message: (e as MigrationError).message };
  }
  throw new Error('checkMigrationList accepted the list');
}

describe('the migration list', () => {
  it('holds every file of src/persistence/migrations, under the version its file name says, in ascending order', () => {
    const dir = join(__dirname, '../../src/persistence/migrations');
    const files = readdirSync(dir).sort();
    expect(files.every((f) => /^\d{4}-[a-z0-9-]+\.migration\.ts$/.test(f))).toBe(true);
    const fromFiles = files.map((f) => Number(f.slice(0, 4)));
    // The files are found at run time, so they are loaded the way Jest loads them: require.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = files.map((f) => (require(join(dir, f)) as { migration: Migration }).migration);
    expect(loaded.map((x) => x.version)).toEqual(fromFiles);
    expect(MIGRATION_LIST.migrations).toEqual(loaded);
    expect(fromFiles.slice(0, 8)).toEqual([1, 2, 3, 4, 11, 12, 14, 15]);
  });

  it('passes its own check', () => {
    expect(() => checkMigrationList(MIGRATION_LIST)).not.toThrow();
  });

  it('refuses a gap, naming the missing versions', () => {
    expect(refusal(list([1, 2, 5]))).toEqual({ code: 'MIGRATION_GAP', message: 'migration version 5 (m5) follows version 2: 3, 4 missing' });
    expect(refusal(list([2, 3]))).toEqual({ code: 'MIGRATION_GAP', message: 'migration version 2 (m2) follows version 0: 1 missing' });
    // The numbers history left unused are no gap; any other is.
    expect(() => checkMigrationList(list([1, 2, 5], [3, 4]))).not.toThrow();
    expect(refusal(list([1, 2, 6], [3, 4]))).toEqual({ code: 'MIGRATION_GAP', message: 'migration version 6 (m6) follows version 2: 5 missing' });
    expect(
      refusal({ ...MIGRATION_LIST, migrations: [...MIGRATION_LIST.migrations, m(MIGRATION_LIST.migrations[MIGRATION_LIST.migrations.length - 1].version + 2)] })
        .code,
    ).toBe('MIGRATION_GAP');
  });

  it('refuses a duplicate, naming both', () => {
    expect(refusal({ migrations: [m(1), m(2), { ...m(2), name: 'another' }], unused: [] })).toEqual({
      code: 'MIGRATION_DUPLICATE',
      message: 'migration version 2 is claimed twice: "m2" and "another"',
    });
  });

  it('refuses a version out of order, and one of the numbers left unused', () => {
    expect(refusal(list([1, 3, 2]))).toEqual({ code: 'MIGRATION_OUT_OF_ORDER', message: 'migration version 2 (m2) is listed after version 3' });
    // Today's order before versions were checked: 1, 2, 3, 4, 11, 15, 14, 12.
    const byPosition = [1, 2, 3, 4, 11, 15, 14, 12].map((v) => MIGRATION_LIST.migrations.find((x) => x.version === v)!);
    expect(refusal({ ...MIGRATION_LIST, migrations: byPosition }).message).toMatch(/^migration version 14 \(.*\) is listed after version 15$/);
    expect(refusal(list([1, 2, 3], [3])).message).toBe(
      'migration version 3 (m3) is one of the numbers left unused (3): databases already hold the versions above it',
    );
    expect(refusal(list([1, 0])).code).toBe('MIGRATION_OUT_OF_ORDER');
  });
});
