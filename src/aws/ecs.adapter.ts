import { Injectable } from '@nestjs/common';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListClustersCommand,
  ListServicesCommand,
  type DescribeServicesCommandOutput,
  type DescribeTaskDefinitionCommandOutput,
  type ListClustersCommandOutput,
  type ListServicesCommandOutput,
  type Service,
} from '@aws-sdk/client-ecs';
import type { AwsCallContext } from '../engine/step.contract';
import { AwsCallerService, type AwsSdkCommand } from './aws-caller.service';
import { AwsClientFactory, resolveTarget, type AwsTarget } from './aws-client.factory';
import { countCall, type CallTally } from './call-tally';

export const ECS_SERVICE = 'ecs';

export interface EcsServiceSummary {
  arn: string;
  name: string;
  clusterArn: string;
  status: string;
  taskDefinition: string;
  desiredCount: number;
  runningCount: number;
  launchType: string | null;
}

export interface EcsTaskSize {
  arn: string;
  family: string;
  /** Task-level CPU units and memory MiB; null when the task definition sets them per container only. */
  cpu: number | null;
  memoryMiB: number | null;
  requiresFargate: boolean;
}

/** DescribeServices takes at most 10 services per request. */
export const DESCRIBE_SERVICES_BATCH = 10;
/** A guard against an endpoint that hands back the same NextToken forever. */
const MAX_PAGES = 1000;

/**
 * ECS as the steps need it: small typed calls returning plain objects, never SDK shapes. Reads
 * that page follow nextToken to the end and count every request into the caller's tally.
 */
@Injectable()
export class EcsAdapter {
  constructor(
    private readonly clients: AwsClientFactory,
    private readonly caller: AwsCallerService,
  ) {}

  /** Every cluster ARN in the region (ListClusters, 100 per page). */
  async listClusters(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      countCall(tally, 'ecs:ListClusters');
      const out = await this.read<ListClustersCommandOutput>(ctx, target, 'ListClusters', new ListClustersCommand({ maxResults: 100, nextToken }));
      arns.push(...(out.clusterArns ?? []));
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    return arns;
  }

  /** Every service ARN of one cluster (ListServices, 100 per page). */
  async listServices(ctx: AwsCallContext, target: AwsTarget, cluster: string, tally?: CallTally): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      countCall(tally, 'ecs:ListServices');
      const out = await this.read<ListServicesCommandOutput>(ctx, target, 'ListServices', new ListServicesCommand({ cluster, maxResults: 100, nextToken }));
      arns.push(...(out.serviceArns ?? []));
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    return arns;
  }

  /** The named services of one cluster, in batches of 10; services ECS does not find are left out. */
  async describeServices(ctx: AwsCallContext, target: AwsTarget, cluster: string, services: readonly string[], tally?: CallTally): Promise<EcsServiceSummary[]> {
    const out: EcsServiceSummary[] = [];
    for (let i = 0; i < services.length; i += DESCRIBE_SERVICES_BATCH) {
      countCall(tally, 'ecs:DescribeServices');
      const res = await this.read<DescribeServicesCommandOutput>(
        ctx,
        target,
        'DescribeServices',
        new DescribeServicesCommand({ cluster, services: services.slice(i, i + DESCRIBE_SERVICES_BATCH) }),
      );
      out.push(...(res.services ?? []).map((s) => toService(s, cluster)));
    }
    return out;
  }

  /** The task-level size of a task definition (DescribeTaskDefinition). */
  async describeTaskSize(ctx: AwsCallContext, target: AwsTarget, taskDefinition: string, tally?: CallTally): Promise<EcsTaskSize> {
    countCall(tally, 'ecs:DescribeTaskDefinition');
    const out = await this.read<DescribeTaskDefinitionCommandOutput>(ctx, target, 'DescribeTaskDefinition', new DescribeTaskDefinitionCommand({ taskDefinition }));
    const td = out.taskDefinition;
    const num = (v: string | undefined) => (v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : null);
    return {
      arn: td?.taskDefinitionArn ?? taskDefinition,
      family: td?.family ?? '',
      cpu: num(td?.cpu),
      memoryMiB: num(td?.memory),
      requiresFargate: (td?.requiresCompatibilities ?? []).includes('FARGATE'),
    };
  }

  private read<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand): Promise<O> {
    const { region, roleArn } = resolveTarget(target);
    return this.caller.send<O>(ctx, this.clients.ecs(region, roleArn), command, { service: ECS_SERVICE, operation, mutates: false, region });
  }
}

function toService(s: Service, cluster: string): EcsServiceSummary {
  return {
    arn: s.serviceArn ?? '',
    name: s.serviceName ?? '',
    clusterArn: s.clusterArn ?? cluster,
    status: s.status ?? 'UNKNOWN',
    taskDefinition: s.taskDefinition ?? '',
    desiredCount: s.desiredCount ?? 0,
    runningCount: s.runningCount ?? 0,
    launchType: s.launchType ?? (s.capacityProviderStrategy?.length ? 'CAPACITY_PROVIDER' : null),
  };
}
