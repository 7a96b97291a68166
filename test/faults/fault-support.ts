import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { seedSandbox } from '../../scripts/sandbox/seed-estate';
import { checkoutTaskDefinition, SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { eventually, exited, Harness, REGION, ROOT } from '../support/runbookd';

/**
 * Shared by the fault suite: the mutating runbooks with the parameters they run with against the
 * sandbox, what a run left behind in moto, and the counts every case checks.
 */

/** One crash-point case's counts (test/faults/crash-points.fault.spec.ts), also read by scripts/reliability-table.ts. */
export interface CaseResult {
  runbook: string;
  point: string;
  crashed: boolean;
  state: string;
  expectedState: string;
  /** Mutating operations whose count at moto differs from the clean run: `op: got/expected`. */
  doubled: string[];
  leftovers: string[];
  runEnded: number;
  auditOk: boolean;
}

export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface RunbookCase {
  runbook: string;
  parameters: Record<string, unknown>;
  /** Puts the sandbox in the state the runbook acts on (a bad canary deployed, ...). */
  setup?: (h: Harness) => Promise<void>;
}

export const MUTATING_RUNBOOKS: RunbookCase[] = [
  { runbook: 'failover-test', parameters: { clusterIdentifier: 'orders-aurora', failback: false } },
  { runbook: 'backup-verification', parameters: { dbInstanceIdentifier: 'billing-postgres', pollSeconds: 0.2, drRegion: '' } },
  {
    runbook: 'point-in-time-restore',
    parameters: { dbInstanceIdentifier: 'billing-postgres', pollSeconds: 0.2 },
    // startRun restores to 100 ms ago, which must be after the freshly seeded instance was created
    // (its earliest restorable time): on a fast machine the run started within 100 ms of the seed.
    setup: () => new Promise((r) => setTimeout(r, 250)),
  },
  {
    runbook: 'canary-rollback',
    parameters: { cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service },
    setup: async (h) => {
      const ecs = new ECSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDENTIALS });
      const canary = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-api:1.42.0-bad')))).taskDefinition!
        .taskDefinitionArn!;
      await ecs.send(new UpdateServiceCommand({ cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service, taskDefinition: canary }));
      ecs.destroy();
    },
  },
  // ecs-mark-known-good is left out: its clean run does not end against moto within the suite's
  // 90 s (it waits for a steadiness moto's ECS never reports), so no crash point could be compared.
  { runbook: 'monthly-dr-drill', parameters: { clusterIdentifier: 'orders-aurora', pollSeconds: 0.2 } },
];

/** A fresh sandbox estate and a clean proxy record for the next case. */
export async function resetSandbox(h: Harness, c?: RunbookCase): Promise<void> {
  await h.moto.reset();
  await seedSandbox({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDENTIALS });
  await c?.setup?.(h);
  h.proxy.clear();
}

export async function startRun(h: Harness, c: RunbookCase): Promise<string> {
  const parameters = { ...c.parameters };
  // A point in time the source can be restored to: just now (moto copies the current state).
  if (c.runbook === 'point-in-time-restore') parameters.restoreTime = new Date(Date.now() - 100).toISOString();
  const res = await h.request('POST', `/v1/runbooks/${c.runbook}/runs`, { key: h.keys.operator, body: { parameters, reason: 'fault suite' } });
  if (res.status !== 202) throw new Error(`starting ${c.runbook}: ${res.status} ${res.text}`);
  return res.body.id as string;
}

/**
 * SIGKILLs every worker still alive (and wakes frozen ones first, so they can die), keeping each
 * worker's log under test/artifacts/faults/ for whoever reads a failed case.
 */
export async function killWorkers(h: Harness): Promise<void> {
  const dir = path.join(ROOT, 'test', 'artifacts', 'faults');
  mkdirSync(dir, { recursive: true });
  for (const w of h.workers)
    writeFileSync(
      path.join(
        dir,
        `${
          expect
            .getState()
            .currentTestName?.replace(/[^A-Za-z0-9]+/g, '-')
            .slice(0, 80) ?? 'case'
        }-${w.pid}.log`,
      ),
      logOf(h, w),
    );
  for (const w of h.workers) {
    if (w.exitCode === null && w.signalCode === null) {
      w.kill('SIGCONT');
      w.kill('SIGKILL');
    }
  }
  await Promise.all(h.workers.map(exited));
}

/**
 * Ends whatever a failed case left active, straight in the database, so its concurrency key does
 * not refuse the next case (one failing case must not fail the rest).
 */
export async function endActiveRuns(h: Harness): Promise<void> {
  const db = new Client({ connectionString: h.db.url });
  await db.connect();
  try {
    await db.query(`UPDATE runs SET state = 'failed', phase = 'done', lease_until = NULL WHERE state IN ('queued','running','waiting')`);
  } finally {
    await db.end();
  }
}

export function logOf(h: Harness, w: ChildProcess): string {
  return (h.workerLogs.get(w) ?? []).join('');
}

/** Resolves when the worker has said `text` (or died trying). */
export async function saidOrDied(h: Harness, w: ChildProcess, text: string, timeoutMs = 40_000): Promise<'said' | 'died'> {
  return eventually(
    () => (logOf(h, w).includes(text) ? 'said' : w.exitCode !== null || w.signalCode !== null ? 'died' : undefined),
    timeoutMs,
    `worker to say "${text}"`,
  );
}

/** Mutating AWS calls of a run, by operation, as the audit recorded them (one `aws.request` each). */
export async function auditOf(h: Harness, runId: string): Promise<any[]> {
  const res = await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`);
  if (res.status !== 200) throw new Error(`audit: ${res.status}`);
  return res.body.items;
}

/** What reached moto per mutating operation, counted at the proxy. */
export function mutatingCounts(h: Harness, operations: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const op of operations) out[op] = h.proxy.count(op);
  return out;
}

/** RDS copies a run made (`rbd-<run id>…`) that still exist: what a run left behind. */
export async function leftovers(h: Harness): Promise<string[]> {
  const rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const instances = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
    const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
    return [
      ...instances
        .filter((i) => i.DBInstanceIdentifier?.startsWith('rbd-') && i.DBInstanceStatus !== 'deleting')
        .map((i) => `instance ${i.DBInstanceIdentifier}`),
      ...clusters.filter((c) => c.DBClusterIdentifier?.startsWith('rbd-') && c.Status !== 'deleting').map((c) => `cluster ${c.DBClusterIdentifier}`),
    ];
  } finally {
    rds.destroy();
  }
}

export async function verifyAudit(h: Harness): Promise<any> {
  const res = await h.request('GET', '/v1/audit/verify');
  return res.body;
}
