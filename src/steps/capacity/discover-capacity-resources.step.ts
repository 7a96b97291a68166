import { Injectable } from '@nestjs/common';
import pLimit from 'p-limit';
import { AwsStepError } from '../../aws/aws.error';
import type { CallTally } from '../../aws/call-tally';
import { EcsAdapter } from '../../aws/ecs.adapter';
import { RdsEstateAdapter } from '../../aws/rds-estate.adapter';
import type { CapacityResource, EcsServiceResource, RdsInstanceResource } from '../../capacity/capacity.types';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';

export interface CapacityScope {
  ecsClusters?: string[];
  /** `cluster/service`. */
  ecsServices?: string[];
  rdsInstances?: string[];
  rdsClusters?: string[];
}

interface Input {
  region?: string;
  roleArn?: string;
  scope?: CapacityScope;
}

interface Output extends Record<string, unknown> {
  region: string;
  resources: CapacityResource[];
  /** Requests made, by `service:Operation`. */
  calls: CallTally;
  /** Names in the scope that matched nothing: a report silently missing them would mislead. */
  missing: string[];
  figures: Array<{ id: string; label: string; value: number }>;
}

/** Clusters discovered at once (each then describes its services 4 at a time): well under ECS's rate limits. */
const CLUSTER_CONCURRENCY = 3;

const NAMES = { type: 'array', items: { type: 'string', minLength: 1 } };

/**
 * Finds what the capacity report looks at: ECS services (ListClusters, ListServices,
 * DescribeServices in tens) and RDS instances (DescribeDBInstances, DescribeDBClusters), every
 * page followed. With an empty scope that is everything in the region; a scope names clusters,
 * services, instances or DB clusters (a DB cluster stands for its member instances).
 */
@Injectable()
export class DiscoverCapacityResourcesStep implements StepType<Input, Output> {
  readonly uses = 'capacity.discover-resources';
  readonly description = 'Lists the ECS services and RDS instances a capacity report covers';
  readonly mutates = false;
  readonly iamActions = ['ecs:ListClusters', 'ecs:ListServices', 'ecs:DescribeServices', 'rds:DescribeDBInstances', 'rds:DescribeDBClusters'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...TARGET_PROPERTIES,
      scope: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ecsClusters: NAMES,
          ecsServices: { type: 'array', items: { type: 'string', pattern: '^[^/]+/[^/]+$' } },
          rdsInstances: NAMES,
          rdsClusters: NAMES,
        },
      },
    },
  };
  readonly outputs = ['region', 'resources', 'calls', 'missing', 'figures'];

  constructor(
    private readonly ecs: EcsAdapter,
    private readonly rds: RdsEstateAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const scope = input.scope ?? {};
    const named = (k: keyof CapacityScope) => (scope[k] ?? []).length > 0;
    const everything = !named('ecsClusters') && !named('ecsServices') && !named('rdsInstances') && !named('rdsClusters');
    const calls: CallTally = {};
    const missing: string[] = [];

    const services = everything || named('ecsClusters') || named('ecsServices') ? await this.ecsServices(ctx, target, scope, everything, calls, missing) : [];
    const instances =
      everything || named('rdsInstances') || named('rdsClusters') ? await this.rdsInstances(ctx, target, scope, everything, calls, missing) : [];
    const resources: CapacityResource[] = [...services, ...instances];
    return done<Output>({
      region: target.region,
      resources,
      calls,
      missing,
      figures: [
        { id: 'ecs-services', label: 'ECS services covered', value: services.length },
        { id: 'rds-instances', label: 'RDS instances covered', value: instances.length },
      ],
    });
  }

  summarize(o: Output): string {
    const ecs = o.resources.filter((r) => r.kind === 'ecs-service').length;
    return `${ecs} ECS service(s), ${o.resources.length - ecs} RDS instance(s)${o.missing.length ? `; not found: ${o.missing.join(', ')}` : ''}`;
  }

  private async ecsServices(
    ctx: StepContext,
    target: { region: string; roleArn?: string },
    scope: CapacityScope,
    everything: boolean,
    calls: CallTally,
    missing: string[],
  ): Promise<EcsServiceResource[]> {
    // cluster name → the service names wanted there (null: all of them)
    const wanted = new Map<string, string[] | null>();
    if (everything) {
      for (const arn of await this.ecs.listClusters(ctx.aws, target, calls)) wanted.set(lastPart(arn), null);
    }
    for (const c of scope.ecsClusters ?? []) wanted.set(c, null);
    for (const cs of scope.ecsServices ?? []) {
      const [cluster, service] = cs.split('/');
      const current = wanted.get(cluster);
      if (current === null) continue;
      wanted.set(cluster, [...(current ?? []), service]);
    }
    const clusters = [...wanted.entries()].sort(([a], [b]) => a.localeCompare(b));
    const perCluster = await pLimit(CLUSTER_CONCURRENCY).map(clusters, async ([cluster, names]) => {
      const out: EcsServiceResource[] = [];
      let list = names;
      let found;
      try {
        if (list === null) list = (await this.ecs.listServices(ctx.aws, target, cluster, calls)).map(lastPart);
        found = (await this.ecs.describeServices(ctx.aws, target, cluster, list, calls)).services;
      } catch (err) {
        // A cluster named in the scope that does not exist is reported, not fatal: the rest is still worth a report.
        if (everything || !(err instanceof AwsStepError) || err.code !== 'AWS_NOT_FOUND') throw err;
        missing.push(`ecs cluster ${cluster}`);
        return out;
      }
      const foundNames = new Set(found.map((s) => s.name));
      for (const n of list) if (!foundNames.has(n)) missing.push(`ecs service ${cluster}/${n}`);
      for (const s of found) {
        if (s.status !== 'ACTIVE') continue;
        out.push({
          kind: 'ecs-service',
          id: `${cluster}/${s.name}`,
          cluster,
          service: s.name,
          taskDefinition: s.taskDefinition,
          launchType: s.launchType,
          desiredCount: s.desiredCount,
        });
      }
      return out;
    });
    missing.sort();
    return perCluster.flat();
  }

  private async rdsInstances(
    ctx: StepContext,
    target: { region: string; roleArn?: string },
    scope: CapacityScope,
    everything: boolean,
    calls: CallTally,
    missing: string[],
  ): Promise<RdsInstanceResource[]> {
    const instances = await this.rds.listInstances(ctx.aws, target, calls);
    const clusters = await this.rds.listClusters(ctx.aws, target, calls);
    const include = new Set<string>(scope.rdsInstances ?? []);
    for (const name of scope.rdsClusters ?? []) {
      const c = clusters.find((x) => x.identifier === name);
      if (!c) missing.push(`rds cluster ${name}`);
      for (const m of c?.members ?? []) include.add(m);
    }
    const known = new Set(instances.map((i) => i.identifier));
    for (const name of scope.rdsInstances ?? []) if (!known.has(name)) missing.push(`rds instance ${name}`);
    return instances
      .filter((i) => everything || include.has(i.identifier))
      .sort((a, b) => a.identifier.localeCompare(b.identifier))
      .map((i) => ({
        kind: 'rds-instance',
        id: i.identifier,
        instanceClass: i.instanceClass,
        engine: i.engine,
        allocatedStorageGiB: i.allocatedStorageGiB,
        clusterIdentifier: i.clusterIdentifier,
      }));
  }
}

function lastPart(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}
