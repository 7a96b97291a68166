import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Signs SNS messages the way AWS does, with a key pair and self-signed certificate made on the
 * spot (openssl), for the sandbox, the demo, the benchmark and tests. The certificate is written
 * to a folder runbookd serves through RUNBOOKD_SNS_CERTS_DIR, under an AWS-looking
 * SigningCertURL: the host rule is never loosened. The private key never leaves `dir`.
 */
export interface TestSnsSigner {
  certsDir: string;
  certUrl: string;
  certPem: string;
  /** Adds SignatureVersion, SigningCertURL and Signature to a message. */
  sign(message: Record<string, string>, version?: '1' | '2'): Record<string, string>;
  /** A signed Notification; `overrides` may replace any field before signing. */
  notification(topicArn: string, message: string, overrides?: Record<string, string>, version?: '1' | '2'): Record<string, string>;
  subscriptionConfirmation(topicArn: string, token: string, overrides?: Record<string, string>, version?: '1' | '2'): Record<string, string>;
}

export const TEST_CERT_NAME = 'SimpleNotificationService-runbookd-sandbox.pem';

export function createTestSnsSigner(dir: string, region = 'eu-west-1'): TestSnsSigner {
  const certsDir = path.join(dir, 'certs');
  mkdirSync(certsDir, { recursive: true });
  const keyFile = path.join(dir, 'signing-key.pem');
  const certFile = path.join(certsDir, TEST_CERT_NAME);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=sns.amazonaws.com'],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile, 'utf8');
  const certPem = readFileSync(certFile, 'utf8');
  const certUrl = `https://sns.${region}.amazonaws.com/${TEST_CERT_NAME}`;

  const sign = (message: Record<string, string>, version: '1' | '2' = '2') => {
    const m: Record<string, string> = { ...message, SignatureVersion: version, SigningCertURL: message.SigningCertURL ?? certUrl };
    // https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
    const names =
      m.Type === 'Notification'
        ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
        : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
    let text = '';
    for (const n of names) if (m[n] !== undefined) text += `${n}\n${m[n]}\n`;
    const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    signer.update(text, 'utf8');
    m.Signature = signer.sign(key, 'base64');
    return m;
  };
  return {
    certsDir,
    certUrl,
    certPem,
    sign,
    notification(topicArn, message, overrides = {}, version = '2') {
      return sign(
        { Type: 'Notification', MessageId: randomUUID(), TopicArn: topicArn, Message: message, Timestamp: new Date().toISOString(), ...overrides },
        version,
      );
    },
    subscriptionConfirmation(topicArn, token, overrides = {}, version = '2') {
      const r = topicArn.split(':')[3];
      return sign(
        {
          Type: 'SubscriptionConfirmation',
          MessageId: randomUUID(),
          TopicArn: topicArn,
          Token: token,
          Message: `You have chosen to subscribe to the topic ${topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
          SubscribeURL: `https://sns.${r}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${topicArn}&Token=${token}`,
          Timestamp: new Date().toISOString(),
          ...overrides,
        },
        version,
      );
    },
  };
}

/** A CloudWatch alarm message as SNS carries it (the shape of /work samples: lower-case dimension keys, +0000 times). */
export function cloudWatchAlarmMessage(p: {
  alarmName: string;
  cluster: string;
  service: string;
  region: string;
  accountId: string;
  state?: string;
  stateChangeTime?: Date;
}): string {
  const t = (p.stateChangeTime ?? new Date()).toISOString().replace('Z', '+0000');
  return JSON.stringify({
    AlarmName: p.alarmName,
    AlarmDescription: `5xx responses from ${p.service}`,
    AWSAccountId: p.accountId,
    NewStateValue: p.state ?? 'ALARM',
    NewStateReason: 'Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0).',
    StateChangeTime: t,
    Region: REGION_DISPLAY[p.region] ?? p.region,
    AlarmArn: `arn:aws:cloudwatch:${p.region}:${p.accountId}:alarm:${p.alarmName}`,
    OldStateValue: 'OK',
    Trigger: {
      MetricName: 'HTTPCode_Target_5XX_Count',
      Namespace: 'AWS/ApplicationELB',
      StatisticType: 'Statistic',
      Statistic: 'SUM',
      Unit: null,
      Dimensions: [
        { value: p.cluster, name: 'ClusterName' },
        { value: p.service, name: 'ServiceName' },
      ],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 5.0,
      TreatMissingData: 'missing',
    },
  });
}

const REGION_DISPLAY: Record<string, string> = { 'eu-west-1': 'EU (Ireland)', 'us-east-1': 'US East (N. Virginia)' };
