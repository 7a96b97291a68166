import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { cloudWatchAlarmMessage, createTestSnsSigner, TestSnsSigner } from '../../scripts/sandbox/sns-signer';
import { SnsCertificateFetcher } from '../../src/triggers/sns/sns-certificate.fetcher';
import { Harness } from '../support/runbookd';

const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:eu-west-1:${ACCOUNT}:sandbox-alarms`;
const OTHER_TOPIC = `arn:aws:sns:eu-west-1:${ACCOUNT}:somebody-elses-topic`;

describe('POST /v1/webhooks/sns (signed with a test certificate served from RUNBOOKD_SNS_CERTS_DIR)', () => {
  let h: Harness;
  let signer: TestSnsSigner;
  let dir: string;
  let fetchSpy: jest.SpyInstance;
  let cw: CloudWatchClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runbookd-sns-'));
    signer = createTestSnsSigner(dir);
    // API only: accepted runs stay queued, so the test counts runs without any rollback running.
    h = await Harness.start({
      role: 'api',
      env: { RUNBOOKD_SNS_TOPICS: TOPIC, RUNBOOKD_SNS_CERTS_DIR: signer.certsDir, RUNBOOKD_SNS_BODY_LIMIT_BYTES: String(64 * 1024) },
    });
    fetchSpy = jest.spyOn(h.app.get(SnsCertificateFetcher), 'fetch');
    cw = new CloudWatchClient({ endpoint: h.moto.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });
  afterAll(async () => {
    cw?.destroy();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${h.baseUrl}/v1/webhooks/sns`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: json, text };
  };
  const runs = async () => (await h.request('GET', '/v1/runs?limit=200')).body.items as any[];
  const alarm = (service: string, extra: Partial<Parameters<typeof cloudWatchAlarmMessage>[0]> = {}) =>
    cloudWatchAlarmMessage({ alarmName: `${service}-5xx`, cluster: 'shop', service, region: 'eu-west-1', accountId: ACCOUNT, ...extra });
  /** The alarm the message describes, made real in moto: runbookd confirms every alarm at CloudWatch before acting. */
  const realAlarm = async (service: string, alarmName = `${service}-5xx`, state: 'ALARM' | 'OK' = 'ALARM'): Promise<Date> => {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarmName,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [
          { Name: 'ClusterName', Value: 'shop' },
          { Name: 'ServiceName', Value: service },
        ],
      }),
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: 'test' }));
    return new Date();
  };

  it("accepts a valid SignatureVersion 2 alarm notification and starts canary-rollback with the alarm's parameters", async () => {
    await realAlarm('cart-api');
    const msg = signer.notification(TOPIC, alarm('cart-api'), {}, '2');
    const res = await post(msg, { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-message-id': msg.MessageId, 'x-amz-sns-topic-arn': TOPIC });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'accepted', runs: [{ runbookId: 'canary-rollback', outcome: 'accepted' }] });
    const run = (await h.request('GET', `/v1/runs/${res.body.runs[0].runId}`)).body;
    expect(run.parameters).toMatchObject({ cluster: 'shop', service: 'cart-api', region: 'eu-west-1', alarmName: 'cart-api-5xx' });
    expect(run.trigger).toMatchObject({ kind: 'alarm', actor: 'alarm:cart-api-5xx', topicArn: TOPIC, messageId: msg.MessageId });
    expect(fetchSpy).toHaveBeenCalledTimes(1);
  });

  it('accepts a valid SignatureVersion 1 notification, with a Subject (signed when present)', async () => {
    await realAlarm('search-api');
    const msg = signer.notification(TOPIC, alarm('search-api'), { Subject: 'ALARM: "search-api-5xx" in EU (Ireland)' }, '1');
    const res = await post(msg);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('accepted');
  });

  it('accepts the EventBridge "CloudWatch Alarm State Change" shape', async () => {
    await realAlarm('ledger-api');
    const event = {
      version: '0',
      id: 'c4c1c1c9',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: ACCOUNT,
      time: new Date().toISOString(),
      region: 'eu-west-1',
      resources: [`arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:ledger-api-5xx`],
      detail: {
        alarmName: 'ledger-api-5xx',
        state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: new Date().toISOString().replace('Z', '+0000') },
        previousState: { value: 'OK' },
        configuration: {
          metrics: [
            {
              id: 'm1',
              metricStat: {
                metric: { namespace: 'AWS/ApplicationELB', name: 'HTTPCode_Target_5XX_Count', dimensions: { ClusterName: 'shop', ServiceName: 'ledger-api' } },
              },
            },
          ],
        },
      },
    };
    const res = await post(signer.notification(TOPIC, JSON.stringify(event)));
    expect(res.status).toBe(200);
    const run = (await h.request('GET', `/v1/runs/${res.body.runs[0].runId}`)).body;
    expect(run.parameters).toMatchObject({ cluster: 'shop', service: 'ledger-api', region: 'eu-west-1', alarmName: 'ledger-api-5xx' });
  });

  it('refuses forged, altered, unfetchable, stale, foreign, malformed and oversize messages with a 4xx, starting nothing', async () => {
    const before = (await runs()).length;
    const valid = () => signer.notification(TOPIC, alarm('refused-api'));
    const cases: Array<[string, unknown, number, string, boolean]> = [
      // [what, body, status, code, may fetch the certificate]
      ['forged signature', { ...valid(), Signature: Buffer.alloc(256, 7).toString('base64') }, 403, 'SNS_SIGNATURE_INVALID', true],
      ['altered Message', { ...valid(), Message: alarm('other-api') }, 403, 'SNS_SIGNATURE_INVALID', true],
      ['altered TopicArn header', valid(), 400, 'SNS_MESSAGE_INVALID', false],
      [
        'http cert URL',
        signer.notification(TOPIC, alarm('refused-api'), { SigningCertURL: 'http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem' }),
        400,
        'SNS_CERT_URL_REJECTED',
        false,
      ],
      [
        'off-AWS cert URL',
        signer.notification(TOPIC, alarm('refused-api'), { SigningCertURL: 'https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem' }),
        400,
        'SNS_CERT_URL_REJECTED',
        false,
      ],
      [
        'cert URL not ending .pem',
        signer.notification(TOPIC, alarm('refused-api'), { SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/cert.txt' }),
        400,
        'SNS_CERT_URL_REJECTED',
        false,
      ],
      [
        'stale timestamp',
        signer.notification(TOPIC, alarm('refused-api'), { Timestamp: new Date(Date.now() - 2 * 3600_000).toISOString() }),
        400,
        'SNS_MESSAGE_STALE',
        false,
      ],
      ['unknown topic', signer.notification(OTHER_TOPIC, alarm('refused-api')), 403, 'SNS_TOPIC_NOT_ACCEPTED', false],
      ['malformed JSON', '{"Type": "Notification", ', 400, 'SNS_MESSAGE_INVALID', false],
      ['not an object', '[1,2,3]', 400, 'SNS_MESSAGE_INVALID', false],
      ['oversize body', JSON.stringify({ ...valid(), Message: 'x'.repeat(100 * 1024) }), 413, 'PAYLOAD_TOO_LARGE', false],
    ];
    for (const [what, body, status, code, mayFetch] of cases) {
      const calls = fetchSpy.mock.calls.length;
      const headers: Record<string, string> = what === 'altered TopicArn header' ? { 'x-amz-sns-topic-arn': OTHER_TOPIC } : {};
      const res = await post(body, headers);
      expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({ what, status, code });
      if (!mayFetch) expect({ what, fetched: fetchSpy.mock.calls.length - calls }).toEqual({ what, fetched: 0 });
    }
    expect((await runs()).length).toBe(before);
    const audit = (await h.request('GET', '/v1/audit?limit=500')).body.items.filter((r: any) => r.kind === 'sns.received' && r.data.outcome === 'rejected');
    // Every rejection the service read is audited with its reason (an oversize body is refused before it is read).
    expect(audit.map((r: any) => r.data.code)).toEqual(
      expect.arrayContaining(['SNS_SIGNATURE_INVALID', 'SNS_CERT_URL_REJECTED', 'SNS_MESSAGE_STALE', 'SNS_TOPIC_NOT_ACCEPTED', 'SNS_MESSAGE_INVALID']),
    );
  });

  it('confirms a subscription for an accepted topic with ConfirmSubscription (moto), and refuses one for an unknown topic', async () => {
    const confirmed = await post(signer.subscriptionConfirmation(TOPIC, 'token-for-an-accepted-topic'));
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.outcome).toBe('subscription-confirmed');
    expect(h.proxy.count('ConfirmSubscription')).toBe(1);

    const refused = await post(signer.subscriptionConfirmation(OTHER_TOPIC, 'token-for-a-foreign-topic'));
    expect(refused.status).toBe(403);
    expect(h.proxy.count('ConfirmSubscription')).toBe(1);
    const audit = (await h.request('GET', '/v1/audit?limit=500')).text;
    expect(audit).not.toContain('token-for-an-accepted-topic');

    const unsubscribe = await post(signer.subscriptionConfirmation(TOPIC, 'unsub-token', { Type: 'UnsubscribeConfirmation' }));
    expect(unsubscribe.status).toBe(200);
    expect(unsubscribe.body.outcome).toBe('unsubscribe-noted');
  });

  it('starts one rollback for the same message delivered 3 times at once, and for a re-publish of the same state change', async () => {
    const before = (await runs()).length;
    const changed = await realAlarm('orders-api');
    const msg = signer.notification(TOPIC, alarm('orders-api', { stateChangeTime: changed }));
    const answers = await Promise.all([post(msg), post(msg), post(msg)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.filter((a) => a.body.outcome === 'accepted')).toHaveLength(1);
    const again = await post(signer.notification(TOPIC, alarm('orders-api', { stateChangeTime: changed })));
    expect(again.body.outcome).toBe('duplicate');
    const after = await runs();
    expect(after.length).toBe(before + 1);
    const runIds = new Set([...answers, again].flatMap((a) => a.body.runs.map((r: any) => r.runId)));
    expect(runIds.size).toBe(1);
  });

  it('a storm of alarms, re-publishes and redeliveries at once (runs committed together): one run per state change, every acceptance durable, no 5xx', async () => {
    const services = Array.from({ length: 12 }, (_, i) => `storm-${i}`);
    const changed = new Map<string, Date>();
    for (const s of services) changed.set(s, await realAlarm(s));
    const before = (await runs()).length;
    const posts: Promise<{ service: string; status: number; body: any }>[] = [];
    const messageIds: string[] = [];
    for (const s of services) {
      const msg = signer.notification(TOPIC, alarm(s, { stateChangeTime: changed.get(s) }));
      // The same message twice (SNS redelivers), and the same change re-published under another MessageId.
      for (const body of [msg, msg, signer.notification(TOPIC, alarm(s, { stateChangeTime: changed.get(s) }))]) {
        messageIds.push((body as { MessageId: string }).MessageId);
        posts.push(post(body).then((r) => ({ service: s, ...r })));
      }
    }
    const answers = await Promise.all(posts);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const after = await runs();
    expect(after.length).toBe(before + services.length);
    for (const s of services) {
      const mine = answers.filter((a) => a.service === s);
      expect(mine.filter((a) => a.body.outcome === 'accepted')).toHaveLength(1);
      expect(mine.filter((a) => a.body.outcome === 'duplicate')).toHaveLength(2);
      // Every answer names the one run, and that run is committed with its parameters from CloudWatch.
      const ids = new Set(mine.flatMap((a) => a.body.runs.map((r: any) => r.runId)));
      expect(ids.size).toBe(1);
      const run = after.find((r) => r.id === [...ids][0]);
      expect(run?.parameters?.service ?? run?.parameters?.serviceName).toBe(s);
    }
    // Each accepted run has its run.accepted record; each of the 36 posts has its sns.received record.
    const audit = (await h.request('GET', '/v1/audit?limit=1000')).body.items as any[];
    const acceptedIds = new Set(answers.filter((a) => a.body.outcome === 'accepted').map((a) => a.body.runs[0].runId));
    expect(audit.filter((r) => r.kind === 'run.accepted' && acceptedIds.has(r.runId))).toHaveLength(services.length);
    const received = audit.filter((r) => r.kind === 'sns.received' && messageIds.includes(r.data.messageId));
    expect(received).toHaveLength(services.length * 3);
  });

  it('starts one rollback for two different alarms about one service at once; the second is "already handled"', async () => {
    await realAlarm('payments-api', 'payments-api-5xx');
    await realAlarm('payments-api', 'payments-api-errors');
    const before = (await runs()).length;
    const [a, b] = await Promise.all([
      post(signer.notification(TOPIC, alarm('payments-api', { alarmName: 'payments-api-5xx' }))),
      post(signer.notification(TOPIC, alarm('payments-api', { alarmName: 'payments-api-errors' }))),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const outcomes = [a, b].map((r) => r.body.runs[0].outcome).sort();
    expect(outcomes).toEqual(['accepted', 'already-handled']);
    expect(a.body.runs[0].runId).toBe(b.body.runs[0].runId);
    expect((await runs()).length).toBe(before + 1);
    const audit = (await h.request('GET', '/v1/audit?limit=500')).body.items.filter((r: any) => r.kind === 'sns.received');
    expect(audit.some((r: any) => r.data.runs?.[0]?.outcome === 'already-handled')).toBe(true);
  });

  it("routes the alarm's return to OK to ecs-mark-known-good, not to a rollback", async () => {
    await realAlarm('wallet-api', 'wallet-api-5xx', 'OK');
    const res = await post(signer.notification(TOPIC, alarm('wallet-api', { state: 'OK' })));
    expect(res.body).toMatchObject({ outcome: 'accepted', runs: [{ runbookId: 'ecs-mark-known-good', outcome: 'accepted' }] });
    const run = (await h.request('GET', `/v1/runs/${res.body.runs[0].runId}`)).body;
    expect(run.parameters).toMatchObject({ cluster: 'shop', service: 'wallet-api', alarmName: 'wallet-api-5xx', bakeSeconds: 300 });
  });

  it('answers 200 without a run for notifications it cannot act on, saying why', async () => {
    const before = (await runs()).length;
    const notAlarm = await post(signer.notification(TOPIC, 'the nightly backup finished'));
    expect(notAlarm.body).toMatchObject({ outcome: 'not-an-alarm', runs: [] });
    const noMatch = await post(
      signer.notification(
        TOPIC,
        cloudWatchAlarmMessage({ alarmName: 'disk-space-low', cluster: 'shop', service: 'x', region: 'eu-west-1', accountId: ACCOUNT }),
      ),
    );
    expect(noMatch.body).toMatchObject({ outcome: 'no-match', runs: [] });
    // Matches canary-rollback, but its mapped `reason` is longer than the runbook allows: a definition problem SNS retries cannot fix.
    await realAlarm('long-api', `${'x'.repeat(600)}-5xx`);
    const refused = await post(signer.notification(TOPIC, alarm('long-api', { alarmName: `${'x'.repeat(600)}-5xx` })));
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ outcome: 'parameters-invalid', runs: [{ runbookId: 'canary-rollback', outcome: 'parameters-invalid', runId: null }] });
    expect(refused.body.runs[0].message).toMatch(/reason/);
    expect((await runs()).length).toBe(before);
  });

  it('never answers 5xx and never starts a run, whatever the body and headers (fast-check)', async () => {
    const before = (await runs()).length;
    const template = signer.notification(TOPIC, alarm('fuzz-api'));
    // Only fields the signature or its checks cover: an unsigned extra field on a valid message is rightly accepted.
    const signed = [
      'Type',
      'MessageId',
      'TopicArn',
      'Message',
      'Timestamp',
      'SignatureVersion',
      'Signature',
      'SigningCertURL',
      'Subject',
      'Token',
      'SubscribeURL',
    ];
    const field = fc.constantFrom(...signed);
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom(
        '',
        '\u0000',
        'Notification',
        'SubscriptionConfirmation',
        '1',
        '2',
        '3',
        TOPIC,
        'https://sns.eu-west-1.amazonaws.com/x.pem',
        'https://evil.example/x.pem',
        'null',
      ),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
    );
    const mutated = fc
      .array(fc.tuple(field, value), { minLength: 1, maxLength: 4 })
      .map((edits) => {
        const m: Record<string, unknown> = { ...template };
        for (const [k, v] of edits) m[k] = v;
        return m;
      })
      .filter((m) => signed.some((k) => m[k] !== template[k]))
      .map((m) => JSON.stringify(m));
    const body = fc.oneof(
      mutated,
      fc.string(),
      fc.json(),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const headers = fc.record(
      {
        'content-type': fc.constantFrom('text/plain; charset=UTF-8', 'text/plain', 'application/json', 'application/octet-stream', 'text/html', 'x/y'),
        'x-amz-sns-message-type': fc.constantFrom('Notification', 'SubscriptionConfirmation', 'Bogus', ''),
        'x-amz-sns-topic-arn': fc.constantFrom(TOPIC, OTHER_TOPIC, 'nope'),
      },
      { requiredKeys: ['content-type'] },
    );
    await fc.assert(
      fc.asyncProperty(body, headers, async (b, hd) => {
        const res = await fetch(`${h.baseUrl}/v1/webhooks/sns`, { method: 'POST', headers: hd as Record<string, string>, body: b });
        await res.arrayBuffer();
        return res.status >= 400 && res.status < 500;
      }),
      { numRuns: 150, seed: 4242 },
    );
    expect((await runs()).length).toBe(before);
  });
});
