import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { cloudWatchAlarmMessage, createTestSnsSigner, TestSnsSigner } from '../../scripts/sandbox/sns-signer';
import { Harness, REGION } from '../support/runbookd';

const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:sandbox-alarms`;

/** PostgreSQL refuses U+0000 and lone surrogates: such input is a 4xx naming the field, never a 500. */
describe('text PostgreSQL cannot store', () => {
  let h: Harness;
  let signer: TestSnsSigner;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runbookd-unstorable-'));
    signer = createTestSnsSigner(dir);
    h = await Harness.start({ role: 'api', seed: false, env: { RUNBOOKD_SNS_TOPICS: TOPIC, RUNBOOKD_SNS_CERTS_DIR: signer.certsDir } });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 400 naming the field for a NUL in a REST body', async () => {
    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: h.keys.operator, body: { dryRun: true, reason: 'a\u0000b' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', details: { errors: [{ field: 'reason' }] } });
  });

  it('never answers 5xx to REST bodies, queries and paths holding NUL or lone surrogates (fast-check)', async () => {
    const nasty = fc.oneof(fc.constantFrom('\u0000', 'a\u0000', '\ud800', 'x\udfffy', '\ud83d'), fc.string({ unit: 'binary' }));
    const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        nasty,
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(fc.oneof(nasty, fc.string()), tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    const body = fc.record({
      dryRun: fc.constant(true),
      reason: fc.option(nasty),
      parameters: fc.option(fc.dictionary(fc.oneof(nasty, fc.constantFrom('region', 'scope')), json, { maxKeys: 3 })),
    });
    const route = fc.constantFrom('/v1/runbooks/capacity-report/runs', '/v1/runbooks/canary-rollback/runs', '/v1/runbooks/failover-test/runs');
    await fc.assert(
      fc.asyncProperty(route, body, nasty, async (url, b, q) => {
        const post = await fetch(`${h.baseUrl}${url}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${h.keys.operator}`, 'content-type': 'application/json' },
          body: JSON.stringify(b),
        });
        await post.arrayBuffer();
        // A URL cannot carry a lone surrogate (it is UTF-8): those become NULs there.
        const u = encodeURIComponent(q.replace(/[\ud800-\udfff]/g, '\u0000'));
        const get = await fetch(`${h.baseUrl}/v1/runs/${u}?runbook=${u}`, { headers: { authorization: `Bearer ${h.keys.viewer}` } });
        await get.arrayBuffer();
        return post.status < 500 && get.status < 500;
      }),
      { numRuns: 120, seed: 1111 },
    );
  });

  it('refuses a signed alarm with a NUL in a dimension with 400 naming it, and records the message', async () => {
    const cw = new CloudWatchClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      await cw.send(
        new PutMetricAlarmCommand({
          AlarmName: 'nul-api-5xx',
          Namespace: 'N',
          MetricName: 'M',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
      await cw.send(new SetAlarmStateCommand({ AlarmName: 'nul-api-5xx', StateValue: 'ALARM', StateReason: 't' }));
    } finally {
      cw.destroy();
    }
    const msg = signer.notification(
      TOPIC,
      cloudWatchAlarmMessage({ alarmName: 'nul-api-5xx', cluster: 'shop', service: 'a\u0000b', region: REGION, accountId: ACCOUNT }),
    );
    const res = await fetch(`${h.baseUrl}/v1/webhooks/sns`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: JSON.stringify(msg),
    });
    const answer = (await res.json()) as any;
    expect(res.status).toBe(400);
    expect(answer.error.code).toBe('SNS_MESSAGE_INVALID');
    // The service name shows in the dimensions and in the description CloudWatch wrote from it.
    expect(answer.error.details.field).toMatch(/^alarm\.(description|dimensions\.ServiceName)$/);
    const audit = (await h.request('GET', '/v1/audit?limit=200')).body.items.filter(
      (r: any) => r.kind === 'sns.received' && r.data.messageId === msg.MessageId,
    );
    expect(audit).toHaveLength(1);
  });
});
