import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';

/**
 * Metric history and ECS services for the sandbox, the capacity tests and the capacity bench:
 * what a capacity report needs to find something. PutMetricData goes in requests of 1,000
 * datums (the API's limit) with request compression off (moto cannot read gzip bodies, and the
 * SDK compresses anything over 10 KB).
 */

export interface SandboxTarget {
  endpoint: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface MetricHistory {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  unit?: string;
  points: ReadonlyArray<{ t: number; v: number }>;
}

const DATUMS_PER_REQUEST = 1000;

function config(target: SandboxTarget) {
  return {
    region: target.region,
    endpoint: target.endpoint,
    credentials: target.credentials ?? { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 2,
  };
}

/** Writes every point of every series; returns the number of PutMetricData requests sent. */
export async function putMetricHistory(target: SandboxTarget, series: readonly MetricHistory[], concurrency = 4): Promise<number> {
  const cw = new CloudWatchClient({ ...config(target), disableRequestCompression: true });
  // One request per namespace chunk: PutMetricData takes a single namespace.
  const byNamespace = new Map<string, MetricDatum[]>();
  for (const s of series) {
    const list = byNamespace.get(s.namespace) ?? [];
    const dims = Object.entries(s.dimensions).map(([Name, Value]) => ({ Name, Value }));
    for (const p of s.points)
      list.push({
        MetricName: s.metricName,
        Dimensions: dims,
        Timestamp: new Date(p.t),
        Value: p.v,
        ...(s.unit ? { Unit: s.unit as MetricDatum['Unit'] } : {}),
      });
    byNamespace.set(s.namespace, list);
  }
  const requests: Array<{ namespace: string; data: MetricDatum[] }> = [];
  for (const [namespace, data] of byNamespace) {
    for (let i = 0; i < data.length; i += DATUMS_PER_REQUEST) requests.push({ namespace, data: data.slice(i, i + DATUMS_PER_REQUEST) });
  }
  try {
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++];
        await cw.send(new PutMetricDataCommand({ Namespace: r.namespace, MetricData: r.data }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  } finally {
    cw.destroy();
  }
  return requests.length;
}

export interface SandboxService {
  cluster: string;
  service: string;
  /** Fargate task size. */
  cpu: number;
  memoryMiB: number;
  desiredCount?: number;
}

/** Clusters, one task definition per size and the services, as ECS would hold them. */
export async function createEcsServices(target: SandboxTarget, services: readonly SandboxService[], concurrency = 8): Promise<void> {
  const ecs = new ECSClient(config(target));
  try {
    for (const cluster of new Set(services.map((s) => s.cluster))) await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    const taskDefs = new Map<string, string>();
    for (const s of services) {
      const family = `task-${s.cpu}-${s.memoryMiB}`;
      if (taskDefs.has(family)) continue;
      const out = await ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          requiresCompatibilities: ['FARGATE'],
          networkMode: 'awsvpc',
          cpu: String(s.cpu),
          memory: String(s.memoryMiB),
          containerDefinitions: [{ name: 'app', image: 'public.ecr.aws/docker/library/nginx:stable', essential: true }],
        }),
      );
      taskDefs.set(family, out.taskDefinition!.taskDefinitionArn!);
    }
    let next = 0;
    const worker = async () => {
      while (next < services.length) {
        const s = services[next++];
        await ecs.send(
          new CreateServiceCommand({
            cluster: s.cluster,
            serviceName: s.service,
            taskDefinition: taskDefs.get(`task-${s.cpu}-${s.memoryMiB}`),
            desiredCount: s.desiredCount ?? 2,
            launchType: 'FARGATE',
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, services.length) }, worker));
  } finally {
    ecs.destroy();
  }
}

/** Hourly points for the `hours` whole hours before `endMs`, value f(days since the first point). */
export function hourlyPoints(endMs: number, hours: number, f: (day: number) => number): Array<{ t: number; v: number }> {
  const hour = 3_600_000;
  const last = Math.floor(endMs / hour) * hour - hour;
  const first = last - (hours - 1) * hour;
  const out: Array<{ t: number; v: number }> = [];
  for (let t = first; t <= last; t += hour) out.push({ t: t + 60_000, v: f((t - first) / 86_400_000) });
  return out;
}
