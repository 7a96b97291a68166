import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import { readGeneratedPolicy } from '../lib/policy-document';
import { RunbookdMemberStack } from '../lib/runbookd-member-stack';
import { RunbookdStack } from '../lib/runbookd-stack';

/**
 * Synthesises offline: account, region and zones come from context (`-c account=... -c region=...`),
 * never from a lookup. `npm run deploy:synth` (root) writes the generated task policy first.
 */
const app = new cdk.App();
const ctx = (key: string): string | undefined => {
  const v = app.node.tryGetContext(key) as unknown;
  return v === undefined || v === '' ? undefined : String(v);
};
const list = (key: string): string[] => (ctx(key) ?? '').split(',').map((s) => s.trim()).filter(Boolean);

const account = ctx('account');
const region = ctx('region');
const env = account || region ? { account, region } : undefined;
const zoneList = list('availabilityZones');
// With a region the zones are named here, and given as the answer to the zones lookup the VPC would
// otherwise make (it checks named zones against the region's); env-agnostic stacks use Fn::GetAZs.
const zones = zoneList.length > 0 ? zoneList : region ? [`${region}a`, `${region}b`] : [];
if (account && region) app.node.setContext(`availability-zones:account=${account}:region=${region}`, zones);
const taskPolicy = readGeneratedPolicy(path.resolve(ctx('taskPolicyFile') ?? path.join(__dirname, '..', '..', 'generated', 'task-policy.json')));

new RunbookdStack(app, 'RunbookdStack', {
  env,
  taskPolicy,
  alarmTopicArns: list('alarmTopicArns'),
  memberAccounts: list('memberAccounts'),
  taskRoleName: ctx('taskRoleName'),
  availabilityZones: zones.length > 0 ? zones : undefined,
  digestRetentionDays: ctx('digestRetentionDays') ? Number(ctx('digestRetentionDays')) : undefined,
  description: 'runbookd on ECS Fargate (api, worker, RDS PostgreSQL, ElastiCache Redis, audit digest bucket)',
});
new RunbookdMemberStack(app, 'RunbookdMemberStack', {
  env: account || region ? { account: ctx('memberAccount') ?? account, region } : undefined,
  taskPolicy,
  description: 'The role runbookd assumes in a member (target) account',
});
