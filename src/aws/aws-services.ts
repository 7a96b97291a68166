import * as backup from '@aws-sdk/client-backup';
import * as cloudwatch from '@aws-sdk/client-cloudwatch';
import * as ecs from '@aws-sdk/client-ecs';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as rds from '@aws-sdk/client-rds';
import * as sns from '@aws-sdk/client-sns';
import type { AwsClientConstructor, DestroyableClient } from './aws-client.factory';
import type { AwsSdkClient, AwsSdkCommand } from './aws-caller.service';

/**
 * The SDK clients the generic steps (`aws.call`, `aws.wait-until`, `aws.assert`) may use, one
 * line each. Adding a client is one dependency in package.json and one line here.
 *
 * Per service, beside the SDK module and client:
 *  - `readOnly`: APIs that change nothing although their names do not start with Describe,
 *    List or Get (everything else is taken to change state and must be declared `mutates: true`);
 *  - `idempotency`: the input that makes a repeated call a no-op, for APIs that have one: a
 *    mutating call gets a token derived from its run and step, so a resend after a crash does
 *    not act twice;
 *  - `iamPrefix`: the service's prefix in IAM actions, where it is not the name (ELBv2's actions
 *    are `elasticloadbalancing:DescribeTargetHealth`).
 */
export const AWS_SERVICES = {
  rds: service('rds', rds, rds.RDSClient, { readOnly: ['DownloadDBLogFilePortion'] }),
  ecs: service('ecs', ecs, ecs.ECSClient, {
    readOnly: ['DiscoverPollEndpoint'],
    idempotency: { CreateService: 'clientToken', RunTask: 'clientToken', CreateTaskSet: 'clientToken' },
  }),
  cloudwatch: service('cloudwatch', cloudwatch, cloudwatch.CloudWatchClient, {}),
  backup: service('backup', backup, backup.BackupClient, {
    readOnly: ['ExportBackupPlanTemplate'],
    idempotency: {
      StartBackupJob: 'IdempotencyToken',
      StartRestoreJob: 'IdempotencyToken',
      StartCopyJob: 'IdempotencyToken',
      CreateBackupPlan: 'CreatorRequestId',
      CreateBackupVault: 'CreatorRequestId',
    },
  }),
  sns: service('sns', sns, sns.SNSClient, { readOnly: ['CheckIfPhoneNumberIsOptedOut'] }),
  elbv2: service('elbv2', elbv2, elbv2.ElasticLoadBalancingV2Client, { iamPrefix: 'elasticloadbalancing' }),
} as const;

export type AwsServiceName = keyof typeof AWS_SERVICES;

export interface AwsServiceEntry {
  /** Lower case, as runbooks name it and as in audit records and planned calls. */
  name: string;
  /** The prefix of the service's IAM actions (`rds` in `rds:CreateDBSnapshot`); the name unless it differs. */
  iamPrefix: string;
  Client: AwsClientConstructor<DestroyableClient & AwsSdkClient>;
  /** Every API of the client, by name (`CreateDBSnapshot`), from the SDK's own command list. */
  apis: ReadonlyMap<string, new (input: object) => AwsSdkCommand>;
  readOnly: ReadonlySet<string>;
  idempotency: Readonly<Record<string, string>>;
}

const READ_PREFIXES = /^(Describe|List|Get)[A-Z]/;

function service(
  name: string,
  sdk: Record<string, unknown>,
  Client: unknown,
  opts: { readOnly?: string[]; idempotency?: Record<string, string>; iamPrefix?: string },
): AwsServiceEntry {
  const apis = new Map<string, new (input: object) => AwsSdkCommand>();
  for (const [key, value] of Object.entries(sdk)) {
    if (key.endsWith('Command') && key !== 'Command' && key !== '$Command' && typeof value === 'function') {
      apis.set(key.slice(0, -'Command'.length), value as new (input: object) => AwsSdkCommand);
    }
  }
  return {
    name,
    iamPrefix: opts.iamPrefix ?? name,
    Client: Client as AwsClientConstructor<DestroyableClient & AwsSdkClient>,
    apis,
    readOnly: new Set(opts.readOnly ?? []),
    idempotency: opts.idempotency ?? {},
  };
}

export function awsService(name: string): AwsServiceEntry | undefined {
  return Object.prototype.hasOwnProperty.call(AWS_SERVICES, name) ? (AWS_SERVICES as Record<string, AwsServiceEntry>)[name] : undefined;
}

/** False for Describe*, List*, Get* and the service's documented read-only APIs; true for anything else. */
export function apiMutates(entry: AwsServiceEntry, api: string): boolean {
  return !(READ_PREFIXES.test(api) || entry.readOnly.has(api));
}
