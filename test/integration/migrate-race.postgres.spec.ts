import { migrate } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { createTestDatabase } from '../support/database';

/** Replicas booting together on an empty database: creating the migrations table is serialized too. */
describe('migrate() from several processes at once on an empty PostgreSQL database', () => {
  it('applies every migration exactly once and none of the racers fails (5 fresh databases x 6 racers)', async () => {
    for (let round = 0; round < 5; round++) {
      const t = await createTestDatabase();
      const racers = Array.from({ length: 6 }, () => new PgDatabase(t.url, 2));
      try {
        const results = await Promise.allSettled(racers.map((db) => migrate(db)));
        const failures = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
        expect({ round, failures }).toEqual({ round, failures: [] });
        const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
        expect(new Set(applied).size).toBe(applied.length);
      } finally {
        await Promise.all(racers.map((db) => db.close()));
        await t.drop();
      }
    }
  });
});
