// PGlite's CommonJS build (index.cjs) calls import() natively, which Jest refuses without
// --experimental-vm-modules, and the jest config transforms .js/.mjs but not .cjs. Its ESM build
// goes through SWC like the rest of node_modules. Remove once jest.config.js transforms .cjs.
jest.mock('@electric-sql/pglite', () =>
  jest.requireActual(jest.requireActual<typeof import('node:path')>('node:path').join(__dirname, '../../node_modules/@electric-sql/pglite/dist/index.js')),
);

import { REDACTED } from '../../src/common/redact';
import { sqlState } from '../../src/persistence/database';
import { migrate } from '../../src/persistence/migrator';
import { PgliteDatabase } from '../../src/persistence/pglite.database';
import { GENESIS_HASH } from '../../src/audit/audit-hash';
import { AUDIT_VERIFY_REASONS, AuditService } from '../../src/audit/audit.service';
import { auditParts } from '../support/audit';

/** The embedded default: the same repository and verifier on in-memory PGlite. */
describe('audit log on PGlite', () => {
  let db: PgliteDatabase;
  let service: AuditService;

  beforeAll(async () => {
    db = await PgliteDatabase.open(undefined);
    await migrate(db);
    service = auditParts(db).service;
  });

  afterAll(async () => {
    await db?.close();
  });

  it('appends, verifies, refuses changes and detects tampering', async () => {
    const first = await service.append({
      kind: 'run.accepted',
      runId: 'run-1',
      actor: 'apikey:ops',
      data: { parameters: { cluster: 'orders', token: 'canary-pglite' }, when: new Date() },
    });
    expect(first).toMatchObject({ seq: 1, position: null, prevHash: null });
    await Promise.all(Array.from({ length: 20 }, (_, i) => service.append({ kind: 'step.started', runId: 'run-1', actor: 'system', data: { i } })));
    await db.transaction((tx) => service.append({ kind: 'run.ended', runId: 'run-1', actor: 'system', data: { state: 'succeeded' } }, tx));

    await service.anchorNow();
    const result = await service.verify();
    expect(result).toMatchObject({ ok: true, records: 22, anchors: { digests: 1, anchoredRecords: 22 } });
    expect((await service.list({ limit: 1 }))[0]).toMatchObject({ position: 1, prevHash: GENESIS_HASH });
    expect((await service.list({ runId: 'run-1', limit: 100 })).map((r) => r.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));

    const [row] = await db.query<{ row: string }>('SELECT t::text AS row FROM audit_events t WHERE seq = 1');
    expect(row.row).not.toContain('canary-pglite');
    expect((await service.list({ limit: 1 }))[0]).toMatchObject({ seq: first.seq, at: first.at, data: first.data });
    expect(first.data).toMatchObject({ parameters: { token: REDACTED } });

    const refused = await db.query("UPDATE audit_events SET actor = 'x' WHERE chain_pos = 2").catch((e: unknown) => e);
    expect(sqlState(refused)).toBe('42501');

    await db.exec(`
      ALTER TABLE audit_events DISABLE TRIGGER USER;
      UPDATE audit_events SET data = '{"i": 99}' WHERE chain_pos = 5;
      ALTER TABLE audit_events ENABLE TRIGGER USER;`);
    expect(await service.verify()).toMatchObject({ ok: false, records: 22, firstBadRecord: { position: 5, reason: AUDIT_VERIFY_REASONS.badHash } });

    await db.exec(`
      ALTER TABLE audit_events DISABLE TRIGGER USER;
      DELETE FROM audit_events WHERE chain_pos IN (3, 5);
      ALTER TABLE audit_events ENABLE TRIGGER USER;`);
    expect(await service.verify()).toMatchObject({ ok: false, records: 20, firstBadRecord: { position: 4, reason: AUDIT_VERIFY_REASONS.missing } });
  });
});
