import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { cloudWatchAlarmMessage, createTestSnsSigner, TestSnsSigner } from '../../scripts/sandbox/sns-signer';
import { Harness } from '../support/runbookd';

const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:eu-west-1:${ACCOUNT}:sandbox-alarms`;
const FOREIGN = `arn:aws:sns:eu-west-1:${ACCOUNT}:not-ours`;

/**
 * Anyone can POST to the webhook. Refusals before the signature is proven are counted and sampled
 * into the audit (not one locked append each), and a per-source limit answers 429 before any work.
 * Bounded, against 127.0.0.1 only.
 */
describe('refused webhook posts cost nothing', () => {
  let h: Harness;
  let signer: TestSnsSigner;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runbookd-sns-flood-'));
    signer = createTestSnsSigner(dir);
    h = await Harness.start({
      role: 'api',
      seed: false,
      env: {
        RUNBOOKD_SNS_TOPICS: TOPIC,
        RUNBOOKD_SNS_CERTS_DIR: signer.certsDir,
        RUNBOOKD_SNS_RATE_LIMIT_PER_MINUTE: '1500',
        RUNBOOKD_SNS_REFUSAL_AUDIT_INTERVAL_SECONDS: '3600',
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('2,000 refused posts leave fewer than 50 audit records, no 5xx, and 429 past the per-source limit', async () => {
    const valid = signer.notification(
      TOPIC,
      cloudWatchAlarmMessage({ alarmName: 'x-5xx', cluster: 'c', service: 'x', region: 'eu-west-1', accountId: ACCOUNT }),
    );
    const bodies = [
      JSON.stringify({ ...valid, Signature: Buffer.alloc(256, 7).toString('base64') }),
      JSON.stringify(signer.notification(FOREIGN, 'hello')),
      '{"Type": "Notification", ',
      JSON.stringify({ ...valid, SigningCertURL: 'https://evil.example/cert.pem' }),
    ];
    const auditBefore = (await h.request('GET', '/v1/audit?limit=1000')).body.items.length;
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < 2000) {
        const i = next++;
        const res = await fetch(`${h.baseUrl}/v1/webhooks/sns`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=UTF-8' },
          body: bodies[i % bodies.length],
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const counts = Object.fromEntries(statuses);
    expect(Object.keys(counts).filter((s) => Number(s) >= 500)).toEqual([]);
    expect(counts[429]).toBe(500);
    const audit = (await h.request('GET', '/v1/audit?limit=1000')).body.items;
    expect(audit.length - auditBefore).toBeLessThan(50);
    // Every reason is still there, with the source it came from.
    const refused = audit.filter((r: any) => r.kind === 'sns.received' && r.data.outcome === 'rejected');
    expect(new Set(refused.map((r: any) => r.data.code))).toEqual(
      new Set(['SNS_SIGNATURE_INVALID', 'SNS_TOPIC_NOT_ACCEPTED', 'SNS_MESSAGE_INVALID', 'SNS_CERT_URL_REJECTED']),
    );
    expect(refused.every((r: any) => r.data.source === '127.0.0.1')).toBe(true);
  });
});
