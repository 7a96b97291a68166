import { MigrationList } from './migration.types';
import { migration as m0001 } from './migrations/0001-runs.migration';
import { migration as m0002 } from './migrations/0002-sns-messages.migration';
import { migration as m0003 } from './migrations/0003-schedules.migration';
import { migration as m0004 } from './migrations/0004-run-lease.migration';
import { migration as m0011 } from './migrations/0011-notification-claims.migration';
import { migration as m0012 } from './migrations/0012-audit-sealing.migration';
import { migration as m0014 } from './migrations/0014-approvals.migration';
import { migration as m0015 } from './migrations/0015-console-sessions.migration';
import { migration as m0016 } from './migrations/0016-stop-switch.migration';
import { migration as m0017 } from './migrations/0017-audit-record-auth.migration';
import { migration as m0018 } from './migrations/0018-oidc-sign-in.migration';

/**
 * Every migration, in ascending version order; the migrator checks the order and refuses a gap,
 * so a new migration is the next number, in a file of its own, listed last here (a unit test
 * checks every file in `migrations/` is listed under the version its name says).
 *
 * 5-10 and 13 were skipped while the list was kept by hand and applied by position (as 1, 2, 3,
 * 4, 11, 15, 14, 12). Databases record versions, not positions, so those databases are complete
 * under this order too: 12 touches only the audit tables, 14 and 15 never touch them.
 */
export const MIGRATION_LIST: MigrationList = {
  migrations: [m0001, m0002, m0003, m0004, m0011, m0012, m0014, m0015, m0016, m0017, m0018],
  unused: [5, 6, 7, 8, 9, 10, 13],
};
