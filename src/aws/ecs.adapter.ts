import { Injectable } from '@nestjs/common';
import {
  DescribeServiceRevisionsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListServiceDeploymentsCommand,
  ListTagsForResourceCommand,
  paginateListClusters,
  paginateListServices,
  paginateListTaskDefinitions,
  TagResourceCommand,
  UpdateServiceCommand,
  type DescribeServiceRevisionsCommandOutput,
  type DescribeServicesCommandOutput,
  type DescribeTaskDefinitionCommandOutput,
  type ListServiceDeploymentsCommandOutput,
  type ListTagsForResourceCommandOutput,
  type ECSClient,
  type Service,
  type TagResourceCommandInput,
  type UpdateServiceCommandInput,
  type UpdateServiceCommandOutput,
} from '@aws-sdk/client-ecs';
import pLimit from 'p-limit';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import { countCall, type CallTally } from './call-tally';

export const ECS_SERVICE = 'ecs';

export interface EcsDeployment {
  id: string;
  status: string;
  taskDefinition: string | null;
  rolloutState: string | null;
  desiredCount: number;
  runningCount: number;
  createdAt: string | null;
}

/** A service as runbooks see it: plain JSON, ready for step outputs. */
export interface EcsService {
  name: string;
  arn: string;
  cluster: string;
  clusterArn: string;
  status: string;
  taskDefinition: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  launchType: string | null;
  deployments: EcsDeployment[];
  createdAt: string | null;
}

export interface EcsServiceLookup {
  services: EcsService[];
  /** Names ECS reported as failures (MISSING, usually). */
  missing: string[];
}

export interface EcsTaskDefinition {
  arn: string;
  family: string;
  revision: number;
  status: string;
  registeredAt: string | null;
}

/** One entry of the service's deployment history (ListServiceDeployments). */
export interface EcsServiceDeployment {
  arn: string;
  status: string;
  targetServiceRevisionArn: string | null;
  sourceServiceRevisionArns: string[];
  createdAt: string | null;
  finishedAt: string | null;
}

export interface UpdateServiceParams {
  cluster: string;
  service: string;
  taskDefinition: string;
}

/** The task-level size of a task definition, as a capacity report judges it. */
export interface EcsTaskSize {
  arn: string;
  family: string;
  /** Task-level CPU units and memory MiB; null when the task definition sets them per container only. */
  cpu: number | null;
  memoryMiB: number | null;
  requiresFargate: boolean;
}

/** DescribeServices takes at most 10 services per call. */
export const DESCRIBE_SERVICES_BATCH = 10;
/** DescribeServices requests in flight at once: well under ECS's describe rate limits, and 4× faster than one by one. */
const DESCRIBE_CONCURRENCY = 4;

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/**
 * ECS through the one door (AwsCallerService). Every mutating call has a pure `planX` built from
 * the same input function as `x`, so a dry run shows exactly the request a real run would send.
 */
@Injectable()
export class EcsAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = caller.forService(ECS_SERVICE, (region, roleArn, kind) => clients.ecs(region, roleArn, kind));
  }

  /** Every cluster ARN in the region (ListClusters, 100 per page). */
  async listClusters(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<string[]> {
    const arns: string[] = [];
    for await (const out of paginateListClusters(this.calls.paging<ECSClient>(ctx, target, 'ListClusters', tally), { maxResults: 100 }))
      arns.push(...(out.clusterArns ?? []));
    return arns;
  }

  /** Every service ARN of one cluster (ListServices, 100 per page). */
  async listServices(ctx: AwsCallContext, target: AwsTarget, cluster: string, tally?: CallTally): Promise<string[]> {
    const arns: string[] = [];
    for await (const out of paginateListServices(this.calls.paging<ECSClient>(ctx, target, 'ListServices', tally), { cluster, maxResults: 100 }))
      arns.push(...(out.serviceArns ?? []));
    return arns;
  }

  /** The named services of one cluster, 10 per call and a few calls at once; names ECS does not find are listed as missing. */
  async describeServices(ctx: AwsCallContext, target: AwsTarget, cluster: string, services: readonly string[], tally?: CallTally): Promise<EcsServiceLookup> {
    const batches: string[][] = [];
    for (let i = 0; i < services.length; i += DESCRIBE_SERVICES_BATCH) batches.push(services.slice(i, i + DESCRIBE_SERVICES_BATCH));
    const pages = await pLimit(DESCRIBE_CONCURRENCY).map(batches, async (batch) => {
      countCall(tally, 'ecs:DescribeServices');
      return this.calls.read<DescribeServicesCommandOutput>(ctx, target, 'DescribeServices', new DescribeServicesCommand({ cluster, services: batch }));
    });
    const out: EcsServiceLookup = { services: [], missing: [] };
    for (const res of pages) {
      out.services.push(...(res.services ?? []).map(toService));
      for (const f of res.failures ?? []) out.missing.push((f.arn ?? '').split('/').pop() || f.arn || '?');
    }
    return out;
  }

  /** The task-level size of a task definition (DescribeTaskDefinition). */
  async describeTaskSize(ctx: AwsCallContext, target: AwsTarget, taskDefinition: string, tally?: CallTally): Promise<EcsTaskSize> {
    countCall(tally, 'ecs:DescribeTaskDefinition');
    const out = await this.calls.read<DescribeTaskDefinitionCommandOutput>(
      ctx,
      target,
      'DescribeTaskDefinition',
      new DescribeTaskDefinitionCommand({ taskDefinition }),
    );
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

  async describeTaskDefinition(ctx: AwsCallContext, target: AwsTarget, taskDefinition: string): Promise<EcsTaskDefinition> {
    const res = await this.calls.read<DescribeTaskDefinitionCommandOutput>(
      ctx,
      target,
      'DescribeTaskDefinition',
      new DescribeTaskDefinitionCommand({ taskDefinition }),
    );
    const td = res.taskDefinition ?? {};
    return {
      arn: td.taskDefinitionArn ?? taskDefinition,
      family: td.family ?? familyOf(td.taskDefinitionArn ?? taskDefinition),
      revision: td.revision ?? revisionOf(td.taskDefinitionArn ?? taskDefinition),
      status: td.status ?? 'UNKNOWN',
      registeredAt: iso(td.registeredAt),
    };
  }

  /** Revision ARNs of a family, newest first. */
  async listTaskDefinitions(ctx: AwsCallContext, target: AwsTarget, family: string, status: 'ACTIVE' | 'INACTIVE' = 'ACTIVE', limit = 100): Promise<string[]> {
    const arns: string[] = [];
    const input = { familyPrefix: family, status, sort: 'DESC' as const, maxResults: 100 };
    for await (const res of paginateListTaskDefinitions(this.calls.paging<ECSClient>(ctx, target, 'ListTaskDefinitions'), input)) {
      // familyPrefix is a prefix: "api" also lists "api-worker".
      arns.push(...(res.taskDefinitionArns ?? []).filter((a) => familyOf(a) === family));
      if (arns.length >= limit) break;
    }
    // Sorted by revision ourselves: not every ECS (moto) honours sort.
    return arns.sort((a, b) => revisionOf(b) - revisionOf(a)).slice(0, limit);
  }

  /** The service's deployment history, newest first. */
  async listServiceDeployments(ctx: AwsCallContext, target: AwsTarget, cluster: string, service: string): Promise<EcsServiceDeployment[]> {
    const res = await this.calls.read<ListServiceDeploymentsCommandOutput>(
      ctx,
      target,
      'ListServiceDeployments',
      new ListServiceDeploymentsCommand({ cluster, service, maxResults: 20 }),
    );
    return (res.serviceDeployments ?? [])
      .map((d) => ({
        arn: d.serviceDeploymentArn ?? '',
        status: d.status ?? 'UNKNOWN',
        targetServiceRevisionArn: d.targetServiceRevisionArn ?? null,
        sourceServiceRevisionArns: [],
        createdAt: iso(d.createdAt ?? d.startedAt),
        finishedAt: iso(d.finishedAt),
      }))
      .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  }

  /** Service revision ARN → the task definition it ran. */
  async serviceRevisionTaskDefinitions(ctx: AwsCallContext, target: AwsTarget, revisionArns: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < revisionArns.length; i += 20) {
      const res = await this.calls.read<DescribeServiceRevisionsCommandOutput>(
        ctx,
        target,
        'DescribeServiceRevisions',
        new DescribeServiceRevisionsCommand({ serviceRevisionArns: revisionArns.slice(i, i + 20) }),
      );
      for (const r of res.serviceRevisions ?? []) if (r.serviceRevisionArn && r.taskDefinition) out.set(r.serviceRevisionArn, r.taskDefinition);
    }
    return out;
  }

  async tagsOf(ctx: AwsCallContext, target: AwsTarget, resourceArn: string): Promise<Record<string, string>> {
    const res = await this.calls.read<ListTagsForResourceCommandOutput>(ctx, target, 'ListTagsForResource', new ListTagsForResourceCommand({ resourceArn }));
    return Object.fromEntries((res.tags ?? []).filter((t) => t.key).map((t) => [t.key!, t.value ?? '']));
  }

  planUpdateService(target: AwsTarget, p: UpdateServiceParams): PlannedCall {
    return this.calls.plan(target, 'UpdateService', updateServiceInput(p));
  }

  async updateService(ctx: AwsCallContext, target: AwsTarget, p: UpdateServiceParams): Promise<{ requestId: string | null; service: EcsService | null }> {
    const res = await this.calls.mutate<UpdateServiceCommandOutput>(ctx, target, 'UpdateService', new UpdateServiceCommand(updateServiceInput(p)));
    return { requestId: res.$metadata?.requestId ?? null, service: res.service ? toService(res.service) : null };
  }

  planTagResource(target: AwsTarget, resourceArn: string, tags: Record<string, string>): PlannedCall {
    return this.calls.plan(target, 'TagResource', tagInput(resourceArn, tags));
  }

  async tagResource(ctx: AwsCallContext, target: AwsTarget, resourceArn: string, tags: Record<string, string>): Promise<void> {
    await this.calls.mutate(ctx, target, 'TagResource', new TagResourceCommand(tagInput(resourceArn, tags)));
  }
}

function updateServiceInput(p: UpdateServiceParams): UpdateServiceCommandInput {
  return { cluster: p.cluster, service: p.service, taskDefinition: p.taskDefinition };
}

function tagInput(resourceArn: string, tags: Record<string, string>): TagResourceCommandInput {
  return { resourceArn, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) };
}

function toService(s: Service): EcsService {
  return {
    name: s.serviceName ?? '',
    arn: s.serviceArn ?? '',
    cluster: (s.clusterArn ?? '').split('/').pop() ?? '',
    clusterArn: s.clusterArn ?? '',
    status: s.status ?? 'UNKNOWN',
    taskDefinition: s.taskDefinition ?? '',
    desiredCount: s.desiredCount ?? 0,
    runningCount: s.runningCount ?? 0,
    pendingCount: s.pendingCount ?? 0,
    launchType: s.launchType ?? (s.capacityProviderStrategy?.length ? 'CAPACITY_PROVIDER' : null),
    deployments: (s.deployments ?? []).map((d) => ({
      id: d.id ?? '',
      status: d.status ?? 'UNKNOWN',
      taskDefinition: d.taskDefinition ?? null,
      rolloutState: d.rolloutState ?? null,
      desiredCount: d.desiredCount ?? 0,
      runningCount: d.runningCount ?? 0,
      createdAt: iso(d.createdAt),
    })),
    createdAt: iso(s.createdAt),
  };
}

/** `arn:aws:ecs:r:a:task-definition/api:7` or `api:7` → `api`. */
export function familyOf(taskDefinition: string): string {
  return taskDefinition.split('/').pop()!.split(':')[0];
}

/** `...task-definition/api:7` → 7 (0 when the reference names no revision). */
export function revisionOf(taskDefinition: string): number {
  const n = Number(taskDefinition.split('/').pop()!.split(':')[1]);
  return Number.isInteger(n) ? n : 0;
}
