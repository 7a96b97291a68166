/**
 * What sizes exist, so a right-sizing suggestion names one that can actually be chosen: the
 * Fargate task CPU/memory combinations and the common RDS instance classes, with the default
 * max_connections formula of each RDS engine family.
 */

export interface FargateSize {
  /** CPU units (1024 = 1 vCPU). */
  cpu: number;
  memoryMiB: number;
}

/** Valid Fargate combinations (AWS ECS developer guide, "Task CPU and memory"), smallest first. */
export const FARGATE_SIZES: readonly FargateSize[] = (() => {
  const sizes: FargateSize[] = [];
  const add = (cpu: number, fromGiB: number, toGiB: number, stepGiB: number) => {
    for (let g = fromGiB; g <= toGiB + 1e-9; g += stepGiB) sizes.push({ cpu, memoryMiB: Math.round(g * 1024) });
  };
  sizes.push({ cpu: 256, memoryMiB: 512 }, { cpu: 256, memoryMiB: 1024 }, { cpu: 256, memoryMiB: 2048 });
  add(512, 1, 4, 1);
  add(1024, 2, 8, 1);
  add(2048, 4, 16, 1);
  add(4096, 8, 30, 1);
  add(8192, 16, 60, 4);
  add(16384, 32, 120, 8);
  return sizes.sort((a, b) => a.cpu - b.cpu || a.memoryMiB - b.memoryMiB);
})();

export function fargateLabel(s: FargateSize): string {
  return `${s.cpu / 1024} vCPU / ${s.memoryMiB >= 1024 ? `${s.memoryMiB / 1024} GB` : `${s.memoryMiB} MB`}`;
}

export interface UtilizationNeed {
  cpuP95: number;
  memoryP95: number;
  cpuThreshold: number;
  memoryThreshold: number;
}

/**
 * The smallest Fargate size smaller than the current one at which the observed p95 load would
 * still sit under the thresholds (load scales inversely with the size); null when none is.
 */
export function smallerFargateSize(current: FargateSize, need: UtilizationNeed): FargateSize | null {
  const cpuNeeded = (current.cpu * need.cpuP95) / need.cpuThreshold;
  const memNeeded = (current.memoryMiB * need.memoryP95) / need.memoryThreshold;
  const fits = FARGATE_SIZES.filter(
    (s) =>
      s.cpu >= cpuNeeded &&
      s.memoryMiB >= memNeeded &&
      s.cpu <= current.cpu &&
      s.memoryMiB <= current.memoryMiB &&
      (s.cpu < current.cpu || s.memoryMiB < current.memoryMiB),
  );
  // Smallest by memory within the smallest CPU: the cheaper of two fitting sizes.
  return fits.sort((a, b) => a.cpu - b.cpu || a.memoryMiB - b.memoryMiB)[0] ?? null;
}

export interface RdsClassSize {
  instanceClass: string;
  vcpu: number;
  memoryGiB: number;
}

const SIZE_ORDER = ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] as const;
const STANDARD_VCPU: Record<string, number> = {
  large: 2,
  xlarge: 4,
  '2xlarge': 8,
  '4xlarge': 16,
  '8xlarge': 32,
  '12xlarge': 48,
  '16xlarge': 64,
  '24xlarge': 96,
};
const BURSTABLE: Record<string, [number, number]> = {
  micro: [2, 1],
  small: [2, 2],
  medium: [2, 4],
  large: [2, 8],
  xlarge: [4, 16],
  '2xlarge': [8, 32],
};
/** GiB of memory per vCPU of each family at the standard sizes. */
const FAMILIES: Record<string, { gibPerVcpu: number; sizes: readonly string[] }> = {
  m5: { gibPerVcpu: 4, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] },
  m6g: { gibPerVcpu: 4, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'] },
  m6i: { gibPerVcpu: 4, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] },
  m7g: { gibPerVcpu: 4, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'] },
  r5: { gibPerVcpu: 8, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] },
  r6g: { gibPerVcpu: 8, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'] },
  r6i: { gibPerVcpu: 8, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] },
  r7g: { gibPerVcpu: 8, sizes: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'] },
  t3: { gibPerVcpu: 0, sizes: ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'] },
  t4g: { gibPerVcpu: 0, sizes: ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'] },
};

/** vCPU and memory of a common RDS class (`db.r6g.xlarge`); null for a class not in the table. */
export function rdsClassSize(instanceClass: string): RdsClassSize | null {
  const m = /^db\.([a-z0-9]+)\.([a-z0-9]+)$/.exec(instanceClass);
  if (!m) return null;
  const [, family, size] = m;
  const fam = FAMILIES[family];
  if (!fam || !fam.sizes.includes(size)) return null;
  if (fam.gibPerVcpu === 0) {
    const [vcpu, mem] = BURSTABLE[size];
    return { instanceClass, vcpu, memoryGiB: mem };
  }
  const vcpu = STANDARD_VCPU[size];
  return { instanceClass, vcpu, memoryGiB: vcpu * fam.gibPerVcpu };
}

/** The classes of the same family smaller than this one, largest first. */
export function smallerRdsClasses(instanceClass: string): RdsClassSize[] {
  const m = /^db\.([a-z0-9]+)\.([a-z0-9]+)$/.exec(instanceClass);
  const fam = m ? FAMILIES[m[1]] : undefined;
  if (!m || !fam) return [];
  const index = fam.sizes.indexOf(m[2]);
  return fam.sizes
    .slice(0, Math.max(0, index))
    .sort((a, b) => SIZE_ORDER.indexOf(b as never) - SIZE_ORDER.indexOf(a as never))
    .map((s) => rdsClassSize(`db.${m[1]}.${s}`)!)
    .filter(Boolean);
}

export interface RdsNeed extends UtilizationNeed {
  /** p95 connections and the share of max_connections allowed, or null when unknown. */
  connectionsP95: number | null;
  connectionsShare: number;
  engine: string;
}

/**
 * The smallest class of the same family at which p95 CPU, memory in use and connections would
 * stay under their thresholds (CPU and memory load scale inversely with vCPU and memory; memory
 * in use is taken to stay the same in bytes); null when no smaller class fits.
 */
export function smallerRdsClass(current: RdsClassSize, need: RdsNeed): RdsClassSize | null {
  const usedGiB = (current.memoryGiB * need.memoryP95) / 100;
  const candidates = smallerRdsClasses(current.instanceClass).filter((c) => {
    const cpu = (need.cpuP95 * current.vcpu) / c.vcpu;
    const mem = (usedGiB / c.memoryGiB) * 100;
    const maxConn = maxConnections(need.engine, c.memoryGiB)?.value ?? null;
    const connOk = need.connectionsP95 === null || maxConn === null || need.connectionsP95 < maxConn * need.connectionsShare;
    return cpu < need.cpuThreshold && mem < need.memoryThreshold && connOk;
  });
  return candidates[candidates.length - 1] ?? null;
}

export interface MaxConnections {
  value: number;
  /** The engine's default parameter-group formula, as AWS writes it. */
  formula: string;
}

const GIB = 1024 ** 3;

/**
 * The default max_connections of an engine at a given class memory. DBInstanceClassMemory is
 * taken as the class's nominal memory (AWS subtracts a little for the OS, so the real default is
 * slightly lower); null for engines without a memory formula (Oracle, SQL Server).
 */
export function maxConnections(engine: string, memoryGiB: number): MaxConnections | null {
  const bytes = memoryGiB * GIB;
  if (engine === 'aurora-mysql' || engine === 'aurora') {
    const v = Math.max(Math.log(bytes / 805306368) * 45, Math.log(bytes / 8187281408) * 1000);
    return { value: Math.max(1, Math.round(v)), formula: 'GREATEST({log(DBInstanceClassMemory/805306368)*45},{log(DBInstanceClassMemory/8187281408)*1000})' };
  }
  if (engine === 'mysql' || engine === 'mariadb') {
    return { value: Math.floor(bytes / 12582880), formula: '{DBInstanceClassMemory/12582880}' };
  }
  if (engine === 'postgres' || engine === 'aurora-postgresql') {
    return { value: Math.min(Math.floor(bytes / 9531392), 5000), formula: 'LEAST({DBInstanceClassMemory/9531392},5000)' };
  }
  return null;
}
