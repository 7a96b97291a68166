import { AuditSigningKey, type AuditDigest, digestHash } from '../../src/audit/audit-digest';
import { GENESIS_HASH, hashRecord } from '../../src/audit/audit-hash';
import { AUDIT_VERIFY_REASONS, verifyAuditLog, type PendingDigest } from '../../src/audit/audit-verifier';
import type { SealedAuditRecord } from '../../src/audit/audit.types';

const key = AuditSigningKey.fromPem(AuditSigningKey.generatePem());

function chain(n: number): SealedAuditRecord[] {
  const out: SealedAuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let position = 1; position <= n; position++) {
    // seq has gaps (rolled-back appends) and is not the position: the chain's order is the sealer's.
    const content = {
      seq: position * 3,
      at: new Date(Date.UTC(2024, 0, 1, 0, 0, position)).toISOString(),
      kind: 'step.started' as const,
      runId: 'run-1',
      actor: 'system',
      data: { position },
    };
    const hash = hashRecord(prevHash, content);
    out.push({ ...content, position, prevHash, hash });
    prevHash = hash;
  }
  return out;
}

/** Digests signed after the records at the given positions. */
function digestsAt(records: SealedAuditRecord[], positions: number[], signer = key): AuditDigest[] {
  const out: AuditDigest[] = [];
  positions.forEach((position, i) => {
    const previous = out[i - 1];
    out.push(
      signer.sign({
        version: 1,
        number: i + 1,
        position,
        headHash: position ? records[position - 1].hash : null,
        at: new Date(Date.UTC(2024, 0, 2, 0, i)).toISOString(),
        previousDigestHash: previous ? digestHash(previous) : null,
        keyId: key.keyId,
      }),
    );
  });
  return out;
}

async function* iterate(records: SealedAuditRecord[]) {
  yield* records;
}

const verify = (records: SealedAuditRecord[], entries: unknown[], pending: PendingDigest[] = []) =>
  verifyAuditLog({ records: iterate(records), store: { description: 'file:/x', entries }, publicKeys: [key.publicKey], pending });

describe('verifyAuditLog', () => {
  it('accepts an empty log and an intact anchored chain, and reports its head', async () => {
    expect(await verify([], [])).toMatchObject({ ok: true, records: 0, headHash: null, anchors: { digests: 0, unanchored: [] } });
    const records = chain(6);
    const result = await verify(records, digestsAt(records, [3, 6]));
    expect(result).toEqual({
      ok: true,
      records: 6,
      headHash: records[5].hash,
      anchors: {
        store: 'file:/x',
        readable: true,
        digests: 2,
        anchoredRecords: 6,
        lastDigestAt: expect.any(String),
        badDigests: [],
        unanchored: [],
        unsealed: 0,
      },
      authentication: { checked: false, beforeAuthentication: { records: 0, throughSeq: 0 }, unauthenticated: [], quarantined: [] },
    });
  });

  it('names a changed record by its own hash, without its content', async () => {
    const records = chain(5);
    const digests = digestsAt(records, [5]);
    records[2] = { ...records[2], data: { secret: 'canary-in-data' } };
    const result = await verify(records, digests);
    expect(result.firstBadRecord).toEqual({ seq: 9, position: 3, reason: AUDIT_VERIFY_REASONS.badHash });
    expect(JSON.stringify(result)).not.toContain('canary');
  });

  it('names a removed record at the one after the gap, and an inserted one at the broken link', async () => {
    const records = chain(5);
    const digests = digestsAt(records, [5]);
    expect((await verify([...records.slice(0, 2), ...records.slice(3)], digests)).firstBadRecord).toMatchObject({
      position: 4,
      reason: AUDIT_VERIFY_REASONS.missing,
    });
    const forged = { seq: 100, at: records[1].at, kind: 'run.ended' as const, runId: 'run-1', actor: 'system', data: {} };
    const inserted = [
      ...records.slice(0, 2),
      { ...forged, position: 3, prevHash: records[1].hash, hash: hashRecord(records[1].hash, forged) },
      ...records.slice(2).map((r) => ({ ...r, position: r.position + 1 })),
    ];
    expect((await verify(inserted, digests)).firstBadRecord).toMatchObject({ position: 4, reason: AUDIT_VERIFY_REASONS.badLink });
  });

  it('names a removed tail from the digest that counted it', async () => {
    const records = chain(8);
    const result = await verify(records.slice(0, 5), digestsAt(records, [4, 8]));
    expect(result).toMatchObject({ ok: false, records: 5, missingTail: { fromPosition: 6, toPosition: 8, digest: 2 }, anchors: { anchoredRecords: 4 } });
  });

  it('names the interval of a change whose chain was recomputed', async () => {
    const records = chain(9);
    const digests = digestsAt(records, [3, 6, 9]);
    const rewritten = chain(9);
    rewritten.forEach((r, i) => {
      if (i >= 4) Object.assign(r, { actor: 'mallory' });
    });
    let prev = GENESIS_HASH;
    for (const r of rewritten) {
      r.prevHash = prev;
      r.hash = hashRecord(prev, r);
      prev = r.hash;
    }
    const result = await verify(rewritten, digests);
    expect(result.firstBadRecord).toEqual({ seq: 12, position: 4, reason: expect.stringMatching(/signed digest 2 .*positions 4–6/) });
  });

  it('refuses bad digests: another key, an edited one, a gap in their numbers, a broken digest link', async () => {
    const records = chain(6);
    const [d1, d2, d3] = digestsAt(records, [2, 4, 6]);
    const other = AuditSigningKey.fromPem(AuditSigningKey.generatePem());
    expect((await verify(records, [d1, { ...d2, position: 3 }, d3])).anchors.badDigests).toEqual([
      { number: 2, reason: 'signature does not verify' },
      { number: 2, reason: 'missing from the store (digests 2–2)' },
    ]);
    expect((await verify(records, [d1, other.sign({ ...d2 }), d3])).anchors.badDigests[0]).toEqual({
      number: 2,
      reason: expect.stringMatching(/unknown key|does not verify/),
    });
    const relinked = key.sign({ ...d3, previousDigestHash: digestHash(d1) });
    expect((await verify(records, [d1, d2, relinked])).anchors.badDigests).toEqual([{ number: 3, reason: 'does not link to digest 2' }]);
    // The same digest published twice (a retry) is one digest.
    expect(await verify(records, [d1, d2, d2, d3])).toMatchObject({ ok: true, anchors: { digests: 3, badDigests: [] } });
  });

  it('says which records no published digest covers, and why', async () => {
    const records = chain(10);
    const [d1] = digestsAt(records, [4]);
    const result = await verify(records, [d1], [{ number: 2, position: 7, attempts: 3, lastError: 'TimeoutError: connect' }]);
    expect(result).toMatchObject({ ok: true, anchors: { anchoredRecords: 4 } });
    expect(result.anchors.unanchored).toEqual([
      { fromPosition: 5, toPosition: 7, reason: expect.stringMatching(/^digest 2 not published: store unreachable after 3 attempt/) },
      { fromPosition: 8, toPosition: 10, reason: expect.stringMatching(/sealed after the newest digest/) },
    ]);
    const unreadable = await verifyAuditLog({
      records: iterate(records),
      store: { description: 's3://b/', error: 'TimeoutError' },
      publicKeys: [key.publicKey],
    });
    expect(unreadable.anchors).toMatchObject({
      readable: false,
      unanchored: [{ fromPosition: 1, toPosition: 10, reason: 'digest store unreadable: TimeoutError' }],
    });
  });
});
