import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/app.config';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { resolveValue } from '../../src/runbooks/expressions';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import type { DefinitionProblem } from '../../src/runbooks/runbook.error';
import { alarmChangeKey, alarmScope, parseAlarmEvent } from '../../src/triggers/sns/alarm-event';
import { Clock } from '../../src/common/clock';
import { DirectorySnsCertificateFetcher, HttpsSnsCertificateFetcher, MAX_CERT_BYTES } from '../../src/triggers/sns/sns-certificate.fetcher';
import { parseSnsMessage, stringToSign } from '../../src/triggers/sns/sns-message';
import { checkSigningCertUrl, SnsSignatureVerifier } from '../../src/triggers/sns/sns-signature.verifier';

const SAMPLES = '/work/shared/samples';
const sample = (name: string) => {
  try {
    return readFileSync(path.join(SAMPLES, name), 'utf8');
  } catch {
    return null;
  }
};

describe('SigningCertURL host rule', () => {
  it.each([
    'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123.pem',
    'https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-0123.pem',
    'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123.pem',
  ])('accepts %s', (url) => {
    expect(checkSigningCertUrl(url).hostname).toMatch(/^sns\./);
  });

  it.each([
    ['http://sns.eu-west-1.amazonaws.com/c.pem', 'must be https'],
    ['https://sns.eu-west-1.amazonaws.com.evil.example/c.pem', 'host'],
    ['https://evil.example/sns.eu-west-1.amazonaws.com/c.pem', 'host'],
    ['https://sns.eu-west-1.amazonaws.com@evil.example/c.pem', 'credentials'],
    ['https://user:pw@sns.eu-west-1.amazonaws.com/c.pem', 'credentials'],
    ['https://sns.eu-west-1.amazonaws.com:8443/c.pem', 'port'],
    ['https://sqs.eu-west-1.amazonaws.com/c.pem', 'host'],
    ['https://sns.amazonaws.com/c.pem', 'host'],
    ['https://sns.eu-west-1.amazonaws.com/c.txt', '.pem'],
    ['https://sns.eu-west-1.amazonaws.com/c.pem?x=1', '.pem'],
    ['not a url', 'not a URL'],
  ])('refuses %s', (url, why) => {
    expect(() => checkSigningCertUrl(url)).toThrow(expect.objectContaining({ code: 'SNS_CERT_URL_REJECTED', message: expect.stringContaining(why) }));
  });
});

describe('string to sign', () => {
  const base = {
    MessageId: 'm1',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:t',
    Message: 'hello\nworld',
    Timestamp: '2026-11-22T10:00:00.000Z',
    SignatureVersion: '2',
    Signature: 'AA==',
    SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/c.pem',
  };

  it('Notification: Message, MessageId, Subject only when present, Timestamp, TopicArn, Type', () => {
    const m = parseSnsMessage(JSON.stringify({ ...base, Type: 'Notification' }), {});
    expect(stringToSign(m)).toBe(
      'Message\nhello\nworld\nMessageId\nm1\nTimestamp\n2026-11-22T10:00:00.000Z\nTopicArn\narn:aws:sns:eu-west-1:123456789012:t\nType\nNotification\n',
    );
    const withSubject = parseSnsMessage(JSON.stringify({ ...base, Type: 'Notification', Subject: 'ALARM' }), {});
    expect(stringToSign(withSubject)).toContain('MessageId\nm1\nSubject\nALARM\nTimestamp\n');
  });

  it('SubscriptionConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type', () => {
    const m = parseSnsMessage(JSON.stringify({ ...base, Type: 'SubscriptionConfirmation', Token: 'tok', SubscribeURL: 'https://x' }), {});
    expect(stringToSign(m)).toBe(
      'Message\nhello\nworld\nMessageId\nm1\nSubscribeURL\nhttps://x\nTimestamp\n2026-11-22T10:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:eu-west-1:123456789012:t\nType\nSubscriptionConfirmation\n',
    );
  });

  it('refuses envelopes that are not SNS messages, naming the field', () => {
    expect(() => parseSnsMessage('{', {})).toThrow(/not JSON/);
    expect(() => parseSnsMessage(JSON.stringify({ ...base, Type: 'Bogus' }), {})).toThrow(/Type must be one of/);
    expect(() => parseSnsMessage(JSON.stringify({ ...base, Type: 'Notification', SignatureVersion: '3' }), {})).toThrow(/SignatureVersion/);
    expect(() => parseSnsMessage(JSON.stringify({ ...base, Type: 'SubscriptionConfirmation' }), {})).toThrow(/Token is missing/);
    expect(() => parseSnsMessage(JSON.stringify({ ...base, Type: 'Notification' }), { 'x-amz-sns-message-id': 'other' })).toThrow(
      /header x-amz-sns-message-id/,
    );
  });
});

describe('the certificate folder (sandbox)', () => {
  it('answers by file name only, and never outside the folder', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certs-'));
    try {
      writeFileSync(path.join(dir, 'a.pem'), 'PEM');
      const f = new DirectorySnsCertificateFetcher(dir);
      await expect(f.fetch(new URL('https://sns.eu-west-1.amazonaws.com/a.pem'))).resolves.toBe('PEM');
      await expect(f.fetch(new URL('https://sns.eu-west-1.amazonaws.com/x/../../etc/passwd.pem'))).rejects.toMatchObject({ code: 'SNS_SIGNATURE_INVALID' });
      await expect(f.fetch(new URL('https://sns.eu-west-1.amazonaws.com/missing.pem'))).rejects.toMatchObject({ code: 'SNS_SIGNATURE_INVALID' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alarm messages', () => {
  const topic = 'arn:aws:sns:eu-west-1:123456789012:prod-alarms';

  it('reads the CloudWatch alarm message: display-name region, lower-case dimension keys, +0000 times', () => {
    const text = sample('cloudwatch-alarm-via-sns.json');
    if (!text) return;
    const a = parseAlarmEvent(JSON.parse(text).Message, topic)!;
    expect(a).toMatchObject({
      name: 'api-service-5xx',
      state: 'ALARM',
      previousState: 'OK',
      region: 'eu-west-1',
      accountId: '123456789012',
      stateChangeTime: '2026-11-21T14:04:10.535Z',
      dimensions: { ClusterName: 'prod', ServiceName: 'api-service' },
      source: 'cloudwatch',
    });
  });

  it('reads the EventBridge "CloudWatch Alarm State Change" event', () => {
    const text = sample('cloudwatch-alarm-eventbridge.json');
    if (!text) return;
    const a = parseAlarmEvent(text, topic)!;
    expect(a).toMatchObject({
      name: 'api-service-5xx',
      state: 'ALARM',
      region: 'eu-west-1',
      stateChangeTime: '2026-11-21T14:04:10.535Z',
      dimensions: { ServiceName: 'api-service' },
      source: 'eventbridge',
    });
    // Both shapes of one state change are one state change.
    const viaSns = parseAlarmEvent(JSON.parse(sample('cloudwatch-alarm-via-sns.json')!).Message, topic)!;
    expect(alarmChangeKey(a)).toBe(alarmChangeKey(viaSns));
  });

  it('reads dimensions of metric-math alarms (Trigger.Metrics), and a region from the topic when the alarm has no ARN', () => {
    const a = parseAlarmEvent(
      JSON.stringify({
        AlarmName: 'old-alarm',
        NewStateValue: 'ALARM',
        StateChangeTime: '2026-11-21T14:04:10.535+0000',
        Region: 'Somewhere New',
        Trigger: {
          Metrics: [
            { Id: 'e1', Expression: 'm1/m2' },
            { Id: 'm1', MetricStat: { Metric: { Dimensions: [{ name: 'ServiceName', value: 'web' }] } } },
          ],
        },
      }),
      topic,
    )!;
    expect(a).toMatchObject({ region: 'eu-west-1', accountId: '123456789012', arn: null, dimensions: { ServiceName: 'web' } });
    expect(parseAlarmEvent('{"hello":1}', topic)).toBeNull();
    expect(parseAlarmEvent('plain text', topic)).toBeNull();
  });

  it('maps trigger parameters with ${{ alarm.* }}', () => {
    const a = parseAlarmEvent(
      JSON.stringify({
        AlarmName: 'x-5xx',
        NewStateValue: 'ALARM',
        StateChangeTime: '2026-11-21T14:04:10Z',
        Trigger: { Dimensions: [{ name: 'ServiceName', value: 'web' }] },
      }),
      topic,
    )!;
    const scope = { alarm: alarmScope(a, { topicArn: topic, messageId: 'm', receivedAt: '2026-11-21T14:04:11.000Z' }) };
    expect(
      resolveValue(
        { service: '${{ alarm.dimensions.ServiceName }}', cluster: '${{ alarm.dimensions.ClusterName }}', why: '${{ alarm.name }} went ${{ alarm.state }}' },
        scope,
      ),
    ).toEqual({ service: 'web', why: 'x-5xx went ALARM' });
  });
});

describe('the loader and the alarm root', () => {
  const fake = (uses: string): StepType => ({
    uses,
    description: uses,
    mutates: false,
    input: { type: 'object' },
    outputs: [],
    run: async () => ({ kind: 'done', output: {} }),
  });
  const registry = new StepRegistry([fake('core.noop')]);
  const problems = (yaml: string): DefinitionProblem[] => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rb-'));
    try {
      writeFileSync(path.join(dir, 'rb.yaml'), yaml);
      loadRunbooks(dir, registry);
      return [];
    } catch (err) {
      return (err as { details: { problems: DefinitionProblem[] } }).details.problems;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const runbook = (trigger: string, withBlock = '{}') => `id: rb
title: rb
parameters: { type: object, properties: { service: { type: string } } }
triggers:
${trigger}
steps:
  - { id: a, uses: core.noop, with: ${withBlock} }
`;

  it('allows alarm.* inside alarm trigger parameters', () => {
    expect(problems(runbook('  - alarm: { alarmName: "-5xx$", parameters: { service: "${{ alarm.dimensions.ServiceName }}" } }'))).toEqual([]);
  });

  it('refuses alarm.* elsewhere, unknown alarm fields, other roots in triggers, bad patterns and undeclared parameters', () => {
    const reasons = (p: DefinitionProblem[]) => p.map((x) => `${x.path}: ${x.reason}`).join('\n');
    expect(reasons(problems(runbook('  - manual: {}', '{ x: "${{ alarm.name }}" }')))).toMatch(/alarm\.\* is known only inside an alarm trigger/);
    expect(reasons(problems(runbook('  - alarm: { parameters: { service: "${{ alarm.colour }}" } }')))).toMatch(/alarm has name, arn/);
    expect(reasons(problems(runbook('  - alarm: { parameters: { service: "${{ params.service }}" } }')))).toMatch(/can use alarm\.\* only/);
    expect(reasons(problems(runbook('  - alarm: { alarmName: "(", parameters: {} }')))).toMatch(/triggers\[0\]\.alarm\.alarmName: not a regular expression/);
    expect(reasons(problems(runbook('  - alarm: { parameters: { servce: "${{ alarm.name }}" } }')))).toMatch(/no parameter "servce"/);
  });
});

describe('webhook configuration', () => {
  const key = 'ops:admin:' + 'a'.repeat(64);

  it('refuses RUNBOOKD_SNS_CERTS_DIR when NODE_ENV=production, and topics that are not topic ARNs', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', RUNBOOKD_API_KEYS: key, RUNBOOKD_SNS_CERTS_DIR: '/tmp/certs' })).toThrow(
      /RUNBOOKD_SNS_CERTS_DIR .* refused when NODE_ENV=production/,
    );
    expect(() => loadConfig({ RUNBOOKD_SNS_TOPICS: 'prod-alarms' })).toThrow(/not an SNS topic ARN/);
    const c = loadConfig({
      RUNBOOKD_SNS_TOPICS: 'arn:aws:sns:eu-west-1:123456789012:a, arn:aws:sns:eu-west-1:123456789012:b',
      RUNBOOKD_SNS_CERTS_DIR: 'certs',
    });
    expect(c.sns.topics).toHaveLength(2);
    expect(c.sns.certsDir).toBe(path.resolve('certs'));
    expect(c.sns.maxMessageAgeSeconds).toBe(3600);
  });
});

describe('the HTTPS certificate fetcher', () => {
  let dir: string;
  let server: https.Server;
  let base: string;
  let key: string;
  let cert: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fetch-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        path.join(dir, 'k.pem'),
        '-out',
        path.join(dir, 'c.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(path.join(dir, 'k.pem'), 'utf8');
    cert = readFileSync(path.join(dir, 'c.pem'), 'utf8');
    server = https.createServer({ key, cert }, (req, res) => {
      if (req.url === '/ok.pem') res.end(cert);
      else if (req.url === '/big.pem') res.end('x'.repeat(MAX_CERT_BYTES + 1));
      else if (req.url === '/slow.pem') setTimeout(() => res.end(cert), 2000).unref();
      else if (req.url === '/broken.pem') res.writeHead(500).end();
      else if (req.url === '/moved.pem') res.writeHead(302, { location: 'https://evil.example/x.pem' }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  const fetcher = () => new HttpsSnsCertificateFetcher(300, { ca: cert, checkServerIdentity: () => undefined });

  it('returns the PEM; a missing one is a bad signature; a large one is refused; no redirect is followed', async () => {
    await expect(fetcher().fetch(new URL(`${base}/ok.pem`))).resolves.toBe(cert);
    await expect(fetcher().fetch(new URL(`${base}/nope.pem`))).rejects.toMatchObject({ code: 'SNS_SIGNATURE_INVALID' });
    await expect(fetcher().fetch(new URL(`${base}/big.pem`))).rejects.toMatchObject({
      code: 'SNS_SIGNATURE_INVALID',
      message: expect.stringMatching(/larger than/),
    });
    await expect(fetcher().fetch(new URL(`${base}/moved.pem`))).rejects.toMatchObject({ code: 'SNS_CERT_UNAVAILABLE' });
  });

  it('gives up after the timeout, and on a server error, with a retryable 503 code', async () => {
    const started = Date.now();
    await expect(fetcher().fetch(new URL(`${base}/slow.pem`))).rejects.toMatchObject({ code: 'SNS_CERT_UNAVAILABLE', retryable: true });
    expect(Date.now() - started).toBeLessThan(1500);
    await expect(fetcher().fetch(new URL(`${base}/broken.pem`))).rejects.toMatchObject({ code: 'SNS_CERT_UNAVAILABLE' });
  });

  it('is never asked for a URL the host rule refuses (the verifier checks first)', async () => {
    const fetch = jest.fn();
    const verifier = new SnsSignatureVerifier({ fetch }, new Clock());
    const m = parseSnsMessage(
      JSON.stringify({
        Type: 'Notification',
        MessageId: 'm',
        TopicArn: 'arn:aws:sns:eu-west-1:123456789012:t',
        Message: 'x',
        Timestamp: new Date().toISOString(),
        SignatureVersion: '2',
        Signature: 'AA==',
        SigningCertURL: `${base}/ok.pem`,
      }),
      {},
    );
    await expect(verifier.verify(m)).rejects.toMatchObject({ code: 'SNS_CERT_URL_REJECTED' });
    expect(fetch).not.toHaveBeenCalled();
  });
});
