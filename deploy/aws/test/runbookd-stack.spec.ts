import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { checkGeneratedPolicy, type GeneratedPolicy } from '../lib/policy-document';
import { RunbookdMemberStack } from '../lib/runbookd-member-stack';
import { RunbookdStack } from '../lib/runbookd-stack';

/*
 * The templates, synthesised offline. The policy is computed here the way `npm run deploy:synth`
 * computes it (scripts/iam-policy.ts over the runbooks folder the image ships), so a runbook that
 * gains a step type changes what the task role must allow, and this test says whether it does.
 */
const { taskRolePolicy } = require(path.resolve(__dirname, '..', '..', '..', 'scripts', 'iam-policy')) as { taskRolePolicy(): GeneratedPolicy };

// aws-cdk-lib checks every synthesised template against CloudFormation's rules in WebAssembly (~10 s
// of CPU here); `npm run deploy:synth` keeps that check, this test asserts the properties it is about.
process.env.CDK_VALIDATION = 'false';

type Resource = { Type: string; Properties: Record<string, any> };
type Statement = { Action: string | string[]; Resource: unknown; Sid?: string };
const arr = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

const ACCOUNT = '111111111111';
const REGION = 'eu-west-1';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:prod-alarms`;

describe('deploy/aws: the CDK app', () => {
  let generated: GeneratedPolicy;
  let main: Template;
  let member: Template;
  let resources: Record<string, Resource>;

  beforeAll(() => {
    generated = taskRolePolicy();
    const app = new cdk.App({ context: { [`availability-zones:account=${ACCOUNT}:region=${REGION}`]: [`${REGION}a`, `${REGION}b`] } });
    const env = { account: ACCOUNT, region: REGION };
    const stack = new RunbookdStack(app, 'RunbookdStack', {
      env, taskPolicy: generated, alarmTopicArns: [TOPIC], memberAccounts: ['222222222222'], availabilityZones: [`${REGION}a`, `${REGION}b`],
    });
    const memberStack = new RunbookdMemberStack(app, 'RunbookdMemberStack', { env: { account: '222222222222', region: REGION }, taskPolicy: generated });
    main = Template.fromStack(stack);
    member = Template.fromStack(memberStack);
    resources = main.toJSON().Resources as Record<string, Resource>;
  });

  const generatedActions = () => [...new Set(generated.Statement.flatMap((s) => arr(s.Action)))].sort();
  const policiesOfRole = (t: Template, roleLogicalId: string) =>
    Object.entries(t.toJSON().Resources as Record<string, Resource>).filter(
      ([, r]) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Array<{ Ref?: string }>).some((x) => x.Ref === roleLogicalId),
    );
  const logicalId = (t: Template, type: string, props: Record<string, unknown>) => {
    const found = Object.keys(t.findResources(type, { Properties: props }));
    expect(found).toHaveLength(1);
    return found[0];
  };

  it('the task role allows exactly the generated actions, scoped as generated, plus its digest bucket', () => {
    expect(generatedActions().length).toBeGreaterThan(10);
    const roleId = logicalId(main, 'AWS::IAM::Role', { RoleName: 'runbookd-task' });
    const policies = policiesOfRole(main, roleId);
    expect(policies.map(([, p]) => p.Properties.PolicyName).sort()).toEqual(['runbookd-audit-digests', 'runbookd-runbooks']);
    const runbooks = policies.find(([, p]) => p.Properties.PolicyName === 'runbookd-runbooks')![1];
    const statements = runbooks.Properties.PolicyDocument.Statement as Statement[];
    // Statement by statement: the same actions on the same resources (a scoped statement stays scoped).
    expect(statements.map((s) => ({ Action: arr(s.Action).sort(), Resource: s.Resource })))
      .toEqual(generated.Statement.map((s) => ({ Action: arr(s.Action).sort(), Resource: s.Resource })));
    const all = policies.flatMap(([, p]) => (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => arr(s.Action)));
    expect([...new Set(all)].sort()).toEqual([...generatedActions(), 's3:GetObject', 's3:ListBucket', 's3:PutObject', 's3:PutObjectRetention'].sort());
    for (const a of all) expect(a).not.toContain('*');
    // The digest statements name the bucket, never every bucket.
    const digests = policies.find(([, p]) => p.Properties.PolicyName === 'runbookd-audit-digests')![1];
    for (const s of digests.Properties.PolicyDocument.Statement as Statement[]) expect(JSON.stringify(s.Resource)).toContain('AuditDigests');
    // Nothing else is attached to it (no managed policy).
    expect(resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('the generated policy names every action: a wildcard in the file is refused before synthesis', () => {
    for (const s of generated.Statement) for (const a of arr(s.Action)) expect(a).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
    const withWildcard = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['rds:Describe*'], Resource: '*' }] };
    expect(() => checkGeneratedPolicy(withWildcard, 'task-policy.json')).toThrow(/"rds:Describe\*" is a wildcard/);
  });

  it('both services run the image with the task role; secrets come from Secrets Manager, not the template', () => {
    const roleId = logicalId(main, 'AWS::IAM::Role', { RoleName: 'runbookd-task' });
    const defs = main.findResources('AWS::ECS::TaskDefinition');
    expect(Object.keys(defs)).toHaveLength(2);
    const roles = new Set<string>();
    for (const d of Object.values(defs)) {
      expect(d.Properties.TaskRoleArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      const [c] = d.Properties.ContainerDefinitions;
      expect(c.Image).toEqual({ Ref: 'ImageUri' });
      const env = Object.fromEntries((c.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
      roles.add(env.RUNBOOKD_ROLE as string);
      expect(env.NODE_ENV).toBe('production');
      expect(JSON.stringify(env.REDIS_URL)).toContain('rediss://');
      expect(env.RUNBOOKD_SNS_TOPICS).toBe(TOPIC);
      expect((c.Secrets as Array<{ Name: string }>).map((s) => s.Name).sort()).toEqual(['PGPASSWORD', 'RUNBOOKD_API_KEYS', 'RUNBOOKD_AUDIT_SIGNING_KEY', 'RUNBOOKD_SECRETS_KEY']);
      for (const name of ['RUNBOOKD_API_KEYS', 'RUNBOOKD_AUDIT_SIGNING_KEY', 'RUNBOOKD_SECRETS_KEY', 'PGPASSWORD']) expect(env[name]).toBeUndefined();
      expect(c.LogConfiguration.LogDriver).toBe('awslogs');
    }
    expect([...roles].sort()).toEqual(['api', 'worker']);
    main.resourceCountIs('AWS::Logs::LogGroup', 2);
  });

  it('the audit digest bucket has Object Lock in COMPLIANCE mode', () => {
    main.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } } },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
  });

  it('PostgreSQL and Redis are Multi-AZ and encrypted; Redis never evicts', () => {
    main.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: true, StorageEncrypted: true, Engine: 'postgres', DeletionProtection: true });
    main.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
    main.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      MultiAZEnabled: true, AutomaticFailoverEnabled: true, NumCacheClusters: 2,
      TransitEncryptionEnabled: true, AtRestEncryptionEnabled: true,
    });
    main.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { Properties: { 'maxmemory-policy': 'noeviction' } });
    for (const type of ['AWS::RDS::DBInstance', 'AWS::ElastiCache::ReplicationGroup']) expect(Object.keys(main.findResources(type))).toHaveLength(1);
  });

  it('no security group is open to the internet except the load balancer on 443', () => {
    const albId = Object.keys(main.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'))[0];
    const albSgs = (resources[albId].Properties.SecurityGroups as Array<{ 'Fn::GetAtt': [string, string] }>).map((g) => g['Fn::GetAtt'][0]);
    const open: Array<{ group: string; from: number; to: number }> = [];
    const isOpen = (rule: Record<string, unknown>) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0';
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroup') {
        for (const rule of (r.Properties.SecurityGroupIngress ?? []) as Array<Record<string, any>>) if (isOpen(rule)) open.push({ group: id, from: rule.FromPort, to: rule.ToPort });
      }
      if (r.Type === 'AWS::EC2::SecurityGroupIngress' && isOpen(r.Properties)) {
        open.push({ group: r.Properties.GroupId['Fn::GetAtt']?.[0] ?? JSON.stringify(r.Properties.GroupId), from: r.Properties.FromPort, to: r.Properties.ToPort });
      }
    }
    expect(open).toEqual([{ group: albSgs[0], from: 443, to: 443 }]);
    expect(albSgs).toHaveLength(1);
    // The only listener is HTTPS, on the certificate given as a parameter.
    main.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    main.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: { Ref: 'CertificateArn' } }] });
  });

  it('the alarm topic delivers to the webhook over HTTPS', () => {
    main.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: TOPIC, Protocol: 'https',
      Endpoint: { 'Fn::Join': ['', ['https://', { Ref: 'DomainName' }, '/v1/webhooks/sns']] },
    });
  });

  it('the member role trusts only the runbookd task role and allows what the runbooks call there', () => {
    member.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'runbookd',
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRole', Effect: 'Allow',
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'RunbookdAccountId' }, ':role/', { Ref: 'RunbookdTaskRoleName' }]] } },
        }],
      },
    });
    const roleId = logicalId(member, 'AWS::IAM::Role', { RoleName: 'runbookd' });
    const actions = policiesOfRole(member, roleId).flatMap(([, p]) => (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => arr(s.Action)));
    expect([...new Set(actions)].sort()).toEqual(generatedActions().filter((a) => a !== 'sts:AssumeRole'));
    member.hasParameter('RunbookdAccountId', { AllowedPattern: Match.stringLikeRegexp('12') });
  });
});
