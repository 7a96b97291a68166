import { CodedError } from '../common/coded-error';

/**
 * The migration list or the database's record of it is not one the migrator can apply safely.
 * Raised at boot, before any migration runs; never retryable (a deploy has to change).
 * - MIGRATION_GAP: a version is missing between two listed ones.
 * - MIGRATION_DUPLICATE: two migrations claim one version.
 * - MIGRATION_OUT_OF_ORDER: a version is listed after a higher one, uses a number marked unused,
 *   or is pending in a database that already holds a higher version.
 */
export type MigrationErrorCode = 'MIGRATION_GAP' | 'MIGRATION_DUPLICATE' | 'MIGRATION_OUT_OF_ORDER';

export class MigrationError extends CodedError<MigrationErrorCode> {
  readonly area = 'migrations';
}
