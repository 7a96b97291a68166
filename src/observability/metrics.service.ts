import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { ApprovalsService } from '../engine/approvals.service';
import { RunQueue } from '../engine/run-queue.adapter';
import { RUN_STATES } from '../engine/run.types';
import { LeftoversRepository } from '../persistence/leftovers.repository';
import { RunsRepository } from '../persistence/runs.repository';

type Sample = { labels?: Record<string, string>; value: number };
interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

/**
 * Cluster-wide figures in the Prometheus text format. They are read from PostgreSQL and the queue
 * at scrape time, not counted in this process: runs execute in other processes, and any API
 * replica must report the same truth.
 */
@Injectable()
export class MetricsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly queue: RunQueue,
    private readonly audit: AuditService,
    private readonly approvals: ApprovalsService,
    private readonly leftovers: LeftoversRepository,
  ) {}

  async render(): Promise<string> {
    const [stats, head, jobs, approvals, sweep] = await Promise.all([
      this.runs.stats(),
      this.audit.head(),
      this.queue.jobCounts().catch(() => null),
      this.approvals.pendingStats(),
      this.leftovers.lastSweep(),
    ]);
    const byState = new Map<string, number>(RUN_STATES.map((s) => [s, 0]));
    const active = new Map<string, number>();
    for (const r of stats.byState) {
      byState.set(r.state, (byState.get(r.state) ?? 0) + r.count);
      if (r.state === 'queued' || r.state === 'running' || r.state === 'waiting') active.set(r.runbookId, (active.get(r.runbookId) ?? 0) + r.count);
    }
    const metrics: Metric[] = [
      {
        name: 'runbookd_runs', type: 'gauge', help: 'Runs recorded, by state (ended states only grow).',
        samples: [...byState].map(([state, value]) => ({ labels: { state }, value })),
      },
      {
        name: 'runbookd_runs_by_runbook', type: 'gauge', help: 'Runs recorded, by runbook and state.',
        samples: stats.byState.map((r) => ({ labels: { runbook: r.runbookId, state: r.state }, value: r.count })),
      },
      {
        name: 'runbookd_active_runs', type: 'gauge', help: 'Runs queued, running or waiting, by runbook.',
        samples: [...active].map(([runbook, value]) => ({ labels: { runbook }, value })),
      },
      {
        name: 'runbookd_oldest_active_run_age_seconds', type: 'gauge',
        help: 'Age of the oldest run not yet ended (0 when none): alert when it exceeds your longest runbook.',
        samples: [{ value: stats.oldestActiveSeconds ?? 0 }],
      },
      {
        name: 'runbookd_runs_dead_lettered', type: 'counter',
        help: 'Runs dead-lettered after too many failed executions (RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS); the main phase ends failed with RUN_DEAD_LETTERED.',
        samples: [{ value: stats.deadLettered }],
      },
      { name: 'runbookd_approvals_pending', type: 'gauge', help: 'Approval requests waiting for a decision.', samples: [{ value: approvals.pending }] },
      {
        name: 'runbookd_oldest_pending_approval_age_seconds', type: 'gauge',
        help: 'How long the oldest undecided approval request has waited (0 when none).',
        samples: [{ value: approvals.oldestSeconds ?? 0 }],
      },
      { name: 'runbookd_audit_records', type: 'counter', help: 'Records in the audit log (the chain head sequence number).', samples: [{ value: head.seq }] },
      {
        name: 'runbookd_queue_up', type: 'gauge', help: '1 when the queue (Redis) answered this scrape.',
        samples: [{ value: jobs ? 1 : 0 }],
      },
      {
        name: 'runbookd_queue_jobs', type: 'gauge', help: 'Jobs in the run queue, by BullMQ state.',
        samples: jobs ? Object.entries(jobs).map(([state, value]) => ({ labels: { state }, value })) : [],
      },
      {
        name: 'runbookd_leaked_resources', type: 'gauge',
        help: 'Expired runbookd-tagged resources whose run had ended, at the last janitor sweep: found, removed, not-removed (alert on not-removed).',
        samples: sweep.map((c) => ({ labels: { type: c.type, state: c.state }, value: c.count })),
      },
    ];
    return metrics.map(format).join('');
  }
}

function format(m: Metric): string {
  const lines = [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`];
  for (const s of m.samples) {
    const labels = s.labels && Object.keys(s.labels).length
      ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
      : '';
    lines.push(`${m.name}${labels} ${Number.isFinite(s.value) ? s.value : 0}`);
  }
  return lines.join('\n') + '\n';
}
