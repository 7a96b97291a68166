import { Logger, Provider } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { Database } from './database';
import { migrate } from './migrator';
import { PgDatabase } from './pg.database';
import { PgliteDatabase } from './pglite.database';

export async function openDatabase(config: AppConfig): Promise<Database> {
  let db: Database;
  let applied: number[];
  if (config.database.url) {
    // Migrations get a connection of their own without the per-connection timeouts: rewriting a
    // large table, or waiting for another replica's migration, is not the slow statement those
    // timeouts are there to stop (and the client-side read timeout cannot be lifted by SET LOCAL).
    const migrator = new PgDatabase(config.database.url, { max: 1, connectTimeoutMs: config.database.connectTimeoutMs });
    try {
      applied = await migrate(migrator);
    } finally {
      await migrator.close();
    }
    db = new PgDatabase(config.database.url, {
      max: config.database.poolMax,
      statementTimeoutMs: config.database.statementTimeoutMs,
      lockTimeoutMs: config.database.lockTimeoutMs,
      connectTimeoutMs: config.database.connectTimeoutMs,
    });
  } else {
    db = await PgliteDatabase.open(config.database.pgliteDir);
    applied = await migrate(db);
  }
  const logger = new Logger('Database');
  logger.log(
    `${db.kind === 'pglite' ? `embedded PGlite at ${config.database.pgliteDir}` : 'PostgreSQL'}; migrations applied: ${applied.length ? applied.join(', ') : 'none pending'}`,
  );
  return db;
}

export const databaseProvider: Provider = {
  provide: Database,
  inject: [AppConfig],
  useFactory: openDatabase,
};
