import { hourlyPoints, type MetricHistory, type SandboxService } from '../../scripts/sandbox/seed-metrics';

/** The bench's estate, the same in the bench process and the CloudWatch stand-in's process. */
export interface Scenario {
  services: number;
  hours: number;
  /** Epoch ms the history ends at. */
  now: number;
}

export const CLUSTERS = 5;
const SIZES = [
  { cpu: 512, memoryMiB: 1024 },
  { cpu: 1024, memoryMiB: 2048 },
  { cpu: 2048, memoryMiB: 4096 },
];

export function scenarioServices(sc: Scenario): SandboxService[] {
  return Array.from({ length: sc.services }, (_, i) => ({
    cluster: `bench-${i % CLUSTERS}`,
    service: `svc-${String(i).padStart(4, '0')}`,
    ...SIZES[i % SIZES.length],
  }));
}

export function scenarioSeries(sc: Scenario): MetricHistory[] {
  return scenarioServices(sc).flatMap((s, i) => metricsFor(s, i, sc.now, sc.hours));
}

/** Rising (at risk: 1 in 20), idle (over-provisioned: 1 in 10) and steady services, in a fixed mix. */
export function metricsFor(s: SandboxService, i: number, now: number, hours: number): MetricHistory[] {
  const dims = { ClusterName: s.cluster, ServiceName: s.service };
  const wobble = (d: number) => Math.sin(d * 2 * Math.PI + i) * 3;
  let cpu: (d: number) => number;
  let mem: (d: number) => number;
  if (i % 20 === 0) {
    cpu = (d) => 35 + 2.5 * d + wobble(d);
    mem = () => 50;
  } else if (i % 10 === 5) {
    cpu = (d) => 8 + wobble(d) / 3;
    mem = () => 20;
  } else {
    cpu = (d) => 30 + (i % 17) + wobble(d);
    mem = (d) => 40 + (i % 13) + wobble(d) / 2;
  }
  return [
    { namespace: 'AWS/ECS', metricName: 'CPUUtilization', unit: 'Percent', dimensions: dims, points: hourlyPoints(now, hours, cpu) },
    { namespace: 'AWS/ECS', metricName: 'MemoryUtilization', unit: 'Percent', dimensions: dims, points: hourlyPoints(now, hours, mem) },
  ];
}
