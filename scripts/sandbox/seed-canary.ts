import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';

/**
 * The canary-rollback part of the sandbox: an ECS service running a known good revision, the
 * 5xx alarm on it and the SNS topic the alarm posts to. Deploying a bad canary (a new revision)
 * is the demo's job, not the seed's, so a seeded sandbox is always healthy.
 */
export const SANDBOX_CANARY = {
  cluster: 'shop',
  service: 'checkout-api',
  family: 'checkout-api',
  alarm: 'checkout-api-5xx',
  topic: 'sandbox-alarms',
  desiredCount: 2,
} as const;

export interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
}

export function checkoutTaskDefinition(image: string) {
  return {
    family: SANDBOX_CANARY.family,
    networkMode: 'awsvpc' as const,
    requiresCompatibilities: ['FARGATE' as const],
    cpu: '256',
    memory: '512',
    containerDefinitions: [{ name: 'app', image, essential: true, portMappings: [{ containerPort: 8080 }] }],
  };
}

export async function seedCanary(config: ClientConfig, note: (created: boolean, what: string) => void): Promise<{ topicArn: string }> {
  const ecs = new ECSClient(config);
  const cloudwatch = new CloudWatchClient(config);
  const sns = new SNSClient(config);
  try {
    const c = SANDBOX_CANARY;
    const clusters = await ecs.send(new DescribeClustersCommand({ clusters: [c.cluster] }));
    const haveCluster = (clusters.clusters ?? []).some((x) => x.status === 'ACTIVE');
    if (!haveCluster) await ecs.send(new CreateClusterCommand({ clusterName: c.cluster }));
    note(!haveCluster, `ECS cluster ${c.cluster}`);

    const revisions = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: c.family }));
    let firstRevision = revisions.taskDefinitionArns?.[0];
    if (!firstRevision) {
      firstRevision = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-api:1.41.0')))).taskDefinition!
        .taskDefinitionArn!;
    }
    note(!revisions.taskDefinitionArns?.length, `task definition ${c.family}`);

    const services = await ecs.send(new DescribeServicesCommand({ cluster: c.cluster, services: [c.service] }));
    const haveService = (services.services ?? []).some((s) => s.status === 'ACTIVE');
    if (!haveService) {
      await ecs.send(
        new CreateServiceCommand({
          cluster: c.cluster,
          serviceName: c.service,
          taskDefinition: firstRevision,
          desiredCount: c.desiredCount,
          launchType: 'FARGATE',
        }),
      );
      // moto starts a service with no tasks running; setting the count is what makes it "steady".
      await ecs.send(new UpdateServiceCommand({ cluster: c.cluster, service: c.service, desiredCount: c.desiredCount }));
    }
    note(!haveService, `ECS service ${c.service}`);

    const found = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [c.alarm], AlarmTypes: ['MetricAlarm'] }));
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: c.topic }))).TopicArn!;
    if ((found.MetricAlarms ?? []).length === 0) {
      await cloudwatch.send(
        new PutMetricAlarmCommand({
          AlarmName: c.alarm,
          AlarmDescription: `5xx responses from ${c.service}: a bad deploy rolls back automatically (canary-rollback)`,
          Namespace: 'AWS/ECS',
          MetricName: 'HTTPCode_Target_5XX_Count',
          Dimensions: [
            { Name: 'ClusterName', Value: c.cluster },
            { Name: 'ServiceName', Value: c.service },
          ],
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 5,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [topicArn],
        }),
      );
      await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: c.alarm, StateValue: 'OK', StateReason: 'Seeded by runbookd sandbox' }));
    }
    note((found.MetricAlarms ?? []).length === 0, `alarm ${c.alarm}`);
    return { topicArn };
  } finally {
    ecs.destroy();
    cloudwatch.destroy();
    sns.destroy();
  }
}
