import { Logger } from '@nestjs/common';
import { GENESIS_HASH, hashRecord } from '../../src/audit/audit-hash';
import type { AuditRepository } from '../../src/audit/audit.repository';
import { AUDIT_VERIFY_REASONS, AuditService } from '../../src/audit/audit.service';
import type { AuditRecord } from '../../src/audit/audit.types';

function chain(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const content = { seq, at: new Date(Date.UTC(2024, 0, 1, 0, 0, seq)).toISOString(), kind: 'step.started' as const, runId: 'run-1', actor: 'system', data: { seq } };
    const hash = hashRecord(prevHash, content);
    out.push({ ...content, prevHash, hash });
    prevHash = hash;
  }
  return out;
}

function serviceOver(records: AuditRecord[]): AuditService {
  const repository = {
    async *iterateAll() {
      yield* records;
    },
  } as unknown as AuditRepository;
  return new AuditService(repository);
}

describe('AuditService.verify', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it('accepts an empty log', async () => {
    expect(await serviceOver([]).verify()).toEqual({ ok: true, records: 0, headHash: null });
  });

  it('accepts an intact chain and reports its head', async () => {
    const records = chain(5);
    expect(await serviceOver(records).verify()).toEqual({ ok: true, records: 5, headHash: records[4].hash });
    expect(warn).not.toHaveBeenCalled();
  });

  it('reports a changed record by its own hash', async () => {
    const records = chain(5);
    records[2] = { ...records[2], data: { seq: 3, secret: 'canary-in-data' } };
    expect(await serviceOver(records).verify()).toEqual({
      ok: false,
      records: 5,
      headHash: records[4].hash,
      firstBadRecord: { seq: 3, reason: AUDIT_VERIFY_REASONS.badHash },
    });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).not.toContain('canary');
  });

  it('reports a removed record at the one after the gap', async () => {
    const records = chain(5);
    records.splice(1, 1);
    expect(await serviceOver(records).verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { seq: 3, reason: 'record missing before this one' } });
  });

  it('reports an inserted record whose hash was recomputed at the record after it', async () => {
    const records = chain(4);
    const forged = { seq: 3, at: records[2].at, kind: 'run.ended' as const, runId: 'run-1', actor: 'system', data: {} };
    const renumbered = records.slice(2).map((r) => ({ ...r, seq: r.seq + 1 }));
    const all = [...records.slice(0, 2), { ...forged, prevHash: records[1].hash, hash: hashRecord(records[1].hash, forged) }, ...renumbered];
    expect(await serviceOver(all).verify()).toMatchObject({ ok: false, records: 5, firstBadRecord: { seq: 4, reason: AUDIT_VERIFY_REASONS.badLink } });
  });

  it('reports only the first problem', async () => {
    const records = chain(6);
    records[1] = { ...records[1], actor: 'mallory' };
    records.splice(4, 1);
    expect(await serviceOver(records).verify()).toMatchObject({ ok: false, records: 5, firstBadRecord: { seq: 2 } });
  });

  it('rejects a chain that does not start at 1', async () => {
    const records = chain(2).map((r) => ({ ...r, seq: r.seq - 1 }));
    expect(await serviceOver(records).verify()).toMatchObject({ ok: false, firstBadRecord: { seq: 0, reason: AUDIT_VERIFY_REASONS.badSeq } });
  });
});
