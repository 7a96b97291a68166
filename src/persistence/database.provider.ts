import { Logger, Provider } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { Database } from './database';
import { migrate } from './migrator';
import { PgDatabase } from './pg.database';
import { PgliteDatabase } from './pglite.database';

export async function openDatabase(config: AppConfig): Promise<Database> {
  const db: Database = config.databaseUrl
    ? new PgDatabase(config.databaseUrl, {
        max: config.dbPoolMax, statementTimeoutMs: config.dbStatementTimeoutMs, lockTimeoutMs: config.dbLockTimeoutMs, connectTimeoutMs: config.dbConnectTimeoutMs,
      })
    : await PgliteDatabase.open(config.pgliteDir);
  const applied = await migrate(db);
  const logger = new Logger('Database');
  logger.log(`${db.kind === 'pglite' ? `embedded PGlite at ${config.pgliteDir}` : 'PostgreSQL'}; migrations applied: ${applied.length ? applied.join(', ') : 'none pending'}`);
  return db;
}

export const databaseProvider: Provider = {
  provide: Database,
  inject: [AppConfig],
  useFactory: openDatabase,
};
