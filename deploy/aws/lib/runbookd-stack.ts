import * as cdk from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { type GeneratedPolicy, statementsOf } from './policy-document';

export interface RunbookdStackProps extends cdk.StackProps {
  /** The policy runbookd generated from the runbooks its image ships (`scripts/iam-policy.ts`). */
  taskPolicy: GeneratedPolicy;
  /** SNS topics whose CloudWatch alarms may start runs: each gets the HTTPS subscription to the webhook. */
  alarmTopicArns?: string[];
  /** Member accounts runbookd acts in through their `runbookd` role (the member stack). */
  memberAccounts?: string[];
  /** Named, so member accounts can trust it before it exists in their templates. */
  taskRoleName?: string;
  /** Zones for the VPC, named so synthesis needs no lookup; defaults to the region's a, b and c. */
  availabilityZones?: string[];
  /** Secrets Manager names of the three secrets made before the first deploy (README, "Deploy on AWS"). */
  secretNames?: { secretsKey: string; auditSigningKey: string; apiKeys: string };
  /** Days each audit digest is locked in COMPLIANCE mode. */
  digestRetentionDays?: number;
}

export const DEFAULT_SECRET_NAMES = { secretsKey: 'runbookd/secrets-key', auditSigningKey: 'runbookd/audit-signing-key', apiKeys: 'runbookd/api-keys' };
const API_PORT = 3000;
const REDIS_PORT = 6379;
const POSTGRES_PORT = 5432;

/**
 * runbookd on ECS Fargate: an api service behind an HTTPS load balancer and a worker service,
 * both from one image, on a Multi-AZ PostgreSQL (RDS) and a Multi-AZ Redis replication group
 * (ElastiCache), with secrets from Secrets Manager and audit digests in an Object Lock bucket.
 * Everything a synthesis needs is a parameter or a prop: no lookup reaches an account.
 */
export class RunbookdStack extends cdk.Stack {
  readonly taskRole: iam.Role;

  constructor(scope: Construct, id: string, props: RunbookdStackProps) {
    super(scope, id, props);
    const secretNames = props.secretNames ?? DEFAULT_SECRET_NAMES;
    const retentionDays = props.digestRetentionDays ?? 400;

    const certificateArn = new cdk.CfnParameter(this, 'CertificateArn', {
      type: 'String', description: 'ACM certificate (in this region) for the load balancer HTTPS listener', allowedPattern: '^arn:aws[a-z-]*:acm:.+$',
    });
    const domainName = new cdk.CfnParameter(this, 'DomainName', {
      type: 'String', description: 'Host name people and SNS reach runbookd at (the certificate names it; point it at the load balancer)',
      allowedPattern: '^[a-z0-9.-]+$',
    });
    const imageUri = new cdk.CfnParameter(this, 'ImageUri', { type: 'String', description: 'runbookd image (docker build .), e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/runbookd:TAG' });
    const apiCount = new cdk.CfnParameter(this, 'ApiDesiredCount', { type: 'Number', default: 2, minValue: 0 });
    const workerCount = new cdk.CfnParameter(this, 'WorkerDesiredCount', { type: 'Number', default: 2, minValue: 0 });

    const vpc = new ec2.Vpc(this, 'Vpc', {
      availabilityZones: props.availabilityZones,
      ...(props.availabilityZones ? {} : { maxAzs: 3 }),
      natGateways: 2,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });

    // Security groups: the internet reaches the load balancer's 443 only; each data store is reached
    // from the tasks only; the tasks reach out on 443 (AWS APIs, SNS certificates, webhooks).
    const albSg = new ec2.SecurityGroup(this, 'AlbSecurityGroup', { vpc, description: 'runbookd load balancer', allowAllOutbound: false });
    albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS from anywhere');
    const taskSg = new ec2.SecurityGroup(this, 'TaskSecurityGroup', { vpc, description: 'runbookd api and worker tasks', allowAllOutbound: false });
    const dbSg = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', { vpc, description: 'runbookd PostgreSQL', allowAllOutbound: false });
    const cacheSg = new ec2.SecurityGroup(this, 'RedisSecurityGroup', { vpc, description: 'runbookd Redis', allowAllOutbound: false });
    taskSg.addIngressRule(albSg, ec2.Port.tcp(API_PORT), 'API from the load balancer');
    albSg.addEgressRule(taskSg, ec2.Port.tcp(API_PORT), 'to the API tasks');
    dbSg.addIngressRule(taskSg, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL from the tasks');
    cacheSg.addIngressRule(taskSg, ec2.Port.tcp(REDIS_PORT), 'Redis from the tasks');
    taskSg.addEgressRule(dbSg, ec2.Port.tcp(POSTGRES_PORT), 'to PostgreSQL');
    taskSg.addEgressRule(cacheSg, ec2.Port.tcp(REDIS_PORT), 'to Redis');
    taskSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs, SNS signing certificates, notification webhooks');

    // PostgreSQL: Multi-AZ, encrypted at rest, TLS required.
    const dbParams = new rds.ParameterGroup(this, 'DatabaseParameters', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      parameters: { 'rds.force_ssl': '1' },
    });
    const db = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [dbSg],
      multiAz: true,
      storageEncrypted: true,
      allocatedStorage: 50,
      maxAllocatedStorage: 500,
      databaseName: 'runbookd',
      credentials: rds.Credentials.fromGeneratedSecret('runbookd', { secretName: 'runbookd/database' }),
      parameterGroup: dbParams,
      backupRetention: cdk.Duration.days(14),
      deletionProtection: true,
      removalPolicy: cdk.RemovalPolicy.SNAPSHOT,
      enablePerformanceInsights: true,
    });

    // Redis: a replication group over two zones with automatic failover; BullMQ needs noeviction.
    const cacheSubnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'runbookd Redis', subnetIds: vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
    });
    const cacheParams = new elasticache.CfnParameterGroup(this, 'RedisParameters', {
      cacheParameterGroupFamily: 'redis7', description: 'runbookd: BullMQ keys must never be evicted', properties: { 'maxmemory-policy': 'noeviction' },
    });
    const redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'runbookd queue',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: 'cache.m7g.large',
      numCacheClusters: 2,
      multiAzEnabled: true,
      automaticFailoverEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      cacheParameterGroupName: cacheParams.ref,
      cacheSubnetGroupName: cacheSubnets.ref,
      securityGroupIds: [cacheSg.securityGroupId],
      snapshotRetentionLimit: 7,
    });

    // Audit digests: Object Lock in COMPLIANCE mode, so not even the account's root deletes one early.
    const digests = new s3.Bucket(this, 'AuditDigests', {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(cdk.Duration.days(retentionDays)),
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: cdk.RemovalPolicy.RETAIN,
    });
    const digestPrefix = 'audit/';

    const secret = (id: string, name: string) => secretsmanager.Secret.fromSecretNameV2(this, id, name);
    const secretsKey = secret('SecretsKey', secretNames.secretsKey);
    const signingKey = secret('AuditSigningKey', secretNames.auditSigningKey);
    const apiKeys = secret('ApiKeys', secretNames.apiKeys);

    const logGroup = (id: string, name: string) =>
      new logs.LogGroup(this, id, { logGroupName: name, retention: logs.RetentionDays.ONE_YEAR, removalPolicy: cdk.RemovalPolicy.RETAIN });
    const apiLogs = logGroup('ApiLogs', '/runbookd/api');
    const workerLogs = logGroup('WorkerLogs', '/runbookd/worker');

    // The task role: what the runbooks call (generated, not written here) plus the digest bucket.
    this.taskRole = new iam.Role(this, 'TaskRole', {
      roleName: props.taskRoleName ?? 'runbookd-task',
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'runbookd: the actions its runbooks call (generated by scripts/iam-policy.ts) and its audit digest bucket',
    });
    new iam.Policy(this, 'RunbooksPolicy', { policyName: 'runbookd-runbooks', roles: [this.taskRole], statements: statementsOf(props.taskPolicy) });
    new iam.Policy(this, 'AuditDigestPolicy', {
      policyName: 'runbookd-audit-digests',
      roles: [this.taskRole],
      statements: [
        new iam.PolicyStatement({ sid: 'PublishDigests', actions: ['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject'], resources: [digests.arnForObjects(`${digestPrefix}*`)] }),
        new iam.PolicyStatement({ sid: 'ListDigests', actions: ['s3:ListBucket'], resources: [digests.bucketArn], conditions: { StringLike: { 's3:prefix': [`${digestPrefix}*`] } } }),
      ],
    });

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const members = props.memberAccounts ?? [];
    const alarmTopics = props.alarmTopicArns ?? [];
    const publicUrl = `https://${domainName.valueAsString}`;
    const environment: Record<string, string> = {
      NODE_ENV: 'production',
      AWS_REGION: this.region,
      // The password comes as PGPASSWORD (node-postgres reads it); TLS without a CA bundle in the image.
      DATABASE_URL: `postgres://runbookd@${db.dbInstanceEndpointAddress}:${db.dbInstanceEndpointPort}/runbookd?uselibpqcompat=true&sslmode=require`,
      REDIS_URL: `rediss://${redis.attrPrimaryEndPointAddress}:${redis.attrPrimaryEndPointPort}`,
      RUNBOOKD_PUBLIC_URL: publicUrl,
      RUNBOOKD_LOG_FORMAT: 'json',
      RUNBOOKD_AUDIT_DIGEST_STORE: `s3://${digests.bucketName}/${digestPrefix}`,
      RUNBOOKD_AUDIT_DIGEST_RETENTION_DAYS: String(retentionDays),
      RUNBOOKD_ALLOWED_ACCOUNTS: [this.account, ...members].join(','),
      ...(alarmTopics.length > 0 ? { RUNBOOKD_SNS_TOPICS: alarmTopics.join(',') } : {}),
      ...(members.length > 0 ? { RUNBOOKD_ACCOUNT_ROLE_ARN: 'arn:aws:iam::{account}:role/runbookd' } : {}),
    };
    const secrets: Record<string, ecs.Secret> = {
      PGPASSWORD: ecs.Secret.fromSecretsManager(db.secret!, 'password'),
      RUNBOOKD_SECRETS_KEY: ecs.Secret.fromSecretsManager(secretsKey),
      RUNBOOKD_AUDIT_SIGNING_KEY: ecs.Secret.fromSecretsManager(signingKey),
      RUNBOOKD_API_KEYS: ecs.Secret.fromSecretsManager(apiKeys),
    };
    const image = ecs.ContainerImage.fromRegistry(imageUri.valueAsString);

    const taskDefinition = (id: string, role: 'api' | 'worker', logGroup: logs.LogGroup) => {
      const def = new ecs.FargateTaskDefinition(this, id, {
        cpu: 1024, memoryLimitMiB: 2048, taskRole: this.taskRole, runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      def.addContainer('runbookd', {
        image,
        environment: { ...environment, RUNBOOKD_ROLE: role },
        secrets,
        logging: ecs.LogDriver.awsLogs({ logGroup, streamPrefix: role }),
        readonlyRootFilesystem: false,
        ...(role === 'api'
          ? {
              portMappings: [{ containerPort: API_PORT }],
              healthCheck: {
                command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${API_PORT}/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
                interval: cdk.Duration.seconds(15), timeout: cdk.Duration.seconds(5), startPeriod: cdk.Duration.seconds(60),
              },
            }
          : {}),
      });
      return def;
    };

    const serviceProps = { cluster, securityGroups: [taskSg], vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, circuitBreaker: { rollback: true } };
    const api = new ecs.FargateService(this, 'ApiService', {
      ...serviceProps, taskDefinition: taskDefinition('ApiTask', 'api', apiLogs), desiredCount: apiCount.valueAsNumber, minHealthyPercent: 100, maxHealthyPercent: 200,
    });
    new ecs.FargateService(this, 'WorkerService', {
      ...serviceProps, taskDefinition: taskDefinition('WorkerTask', 'worker', workerLogs), desiredCount: workerCount.valueAsNumber, minHealthyPercent: 100, maxHealthyPercent: 200,
    });

    const alb = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', { vpc, internetFacing: true, securityGroup: albSg, dropInvalidHeaderFields: true });
    const listener = alb.addListener('Https', {
      port: 443, protocol: elbv2.ApplicationProtocol.HTTPS, open: false, sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      certificates: [acm.Certificate.fromCertificateArn(this, 'Certificate', certificateArn.valueAsString)],
    });
    listener.addTargets('Api', {
      port: API_PORT, protocol: elbv2.ApplicationProtocol.HTTP, targets: [api],
      healthCheck: { path: '/health/ready', healthyHttpCodes: '200', interval: cdk.Duration.seconds(15) },
      deregistrationDelay: cdk.Duration.seconds(30),
    });

    // Alarm topics deliver to the webhook over HTTPS; runbookd confirms the subscription itself.
    alarmTopics.forEach((arn, i) => {
      sns.Topic.fromTopicArn(this, `AlarmTopic${i}`, arn).addSubscription(
        new subscriptions.UrlSubscription(`${publicUrl}/v1/webhooks/sns`, { protocol: sns.SubscriptionProtocol.HTTPS, rawMessageDelivery: false }),
      );
    });

    new cdk.CfnOutput(this, 'LoadBalancerDnsName', { value: alb.loadBalancerDnsName, description: 'Point DomainName (CNAME or alias) here' });
    new cdk.CfnOutput(this, 'TaskRoleArn', { value: this.taskRole.roleArn, description: 'Member accounts trust this role (RunbookdMemberStack)' });
    new cdk.CfnOutput(this, 'AuditDigestBucket', { value: digests.bucketName });
    new cdk.CfnOutput(this, 'DatabaseSecretArn', { value: db.secret!.secretArn });
  }
}
