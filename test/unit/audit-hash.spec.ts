import { createHash } from 'node:crypto';
import { GENESIS_HASH, hashRecord } from '../../src/audit/audit-hash';
import { asStoredJson } from '../../src/persistence/audit-rows';

const content = {
  seq: 7,
  at: '2024-05-01T10:00:00.123Z',
  kind: 'aws.request' as const,
  runId: 'run-1',
  actor: 'system',
  data: { service: 'rds', operation: 'FailoverDBCluster', input: { DBClusterIdentifier: 'orders' } },
};

describe('audit hash', () => {
  it('starts the chain from 64 zeros', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });

  it('is SHA-256 of the previous hash, a newline and the canonical content', () => {
    const expected = createHash('sha256')
      .update(
        `${GENESIS_HASH}\n{"actor":"system","at":"2024-05-01T10:00:00.123Z","data":{"input":{"DBClusterIdentifier":"orders"},"operation":"FailoverDBCluster","service":"rds"},"kind":"aws.request","runId":"run-1","seq":7}`,
      )
      .digest('hex');
    expect(hashRecord(GENESIS_HASH, content)).toBe(expected);
  });

  it('does not depend on key order (jsonb reorders keys) nor on extra fields', () => {
    const reordered = {
      data: { input: { DBClusterIdentifier: 'orders' }, operation: 'FailoverDBCluster', service: 'rds' },
      actor: 'system',
      runId: 'run-1',
      kind: 'aws.request' as const,
      at: content.at,
      seq: 7,
    };
    expect(hashRecord(GENESIS_HASH, reordered)).toBe(hashRecord(GENESIS_HASH, content));
    expect(hashRecord(GENESIS_HASH, { ...content, hash: 'x', prevHash: 'y' } as typeof content)).toBe(hashRecord(GENESIS_HASH, content));
  });

  it('changes with any field, the sequence number and the previous hash', () => {
    const base = hashRecord(GENESIS_HASH, content);
    const variants = [
      hashRecord('f'.repeat(64), content),
      hashRecord(GENESIS_HASH, { ...content, seq: 8 }),
      hashRecord(GENESIS_HASH, { ...content, at: '2024-05-01T10:00:00.124Z' }),
      hashRecord(GENESIS_HASH, { ...content, kind: 'aws.response' }),
      hashRecord(GENESIS_HASH, { ...content, runId: null }),
      hashRecord(GENESIS_HASH, { ...content, actor: 'apikey:ops' }),
      hashRecord(GENESIS_HASH, { ...content, data: { ...content.data, operation: 'DeleteDBCluster' } }),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('normalises values the way jsonb stores them', () => {
    expect(asStoredJson({ d: new Date('2024-01-01T00:00:00.000Z'), u: undefined, n: NaN, a: [undefined, 1] })).toEqual({
      d: '2024-01-01T00:00:00.000Z',
      n: null,
      a: [null, 1],
    });
    expect(asStoredJson({ s: 'a\u0000b', lone: 'x\ud800y', pair: '😀', low: '\udc00' })).toEqual({
      s: 'a\ufffdb',
      lone: 'x\ufffdy',
      pair: '😀',
      low: '\ufffd',
    });
  });
});
