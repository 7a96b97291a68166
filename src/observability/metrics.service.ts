import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { AuditService } from '../audit/audit.service';
import { ApprovalsService } from '../engine/approvals.service';
import { RunQueue } from '../engine/run-queue.adapter';
import { RUN_STATES } from '../model/run.types';
import { LeftoversRepository } from '../persistence/leftovers.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { ResiliencePostureService } from '../fleets/resilience-posture.service';

/** What one scrape reads from PostgreSQL and the queue; every metric is computed from it. */
interface Scrape {
  stats: Awaited<ReturnType<RunsRepository['stats']>>;
  auditSeq: number;
  auditQuarantined: number;
  /** null when the queue (Redis) did not answer. */
  jobs: Record<string, number> | null;
  approvals: { pending: number; oldestSeconds: number | null };
  sweep: Awaited<ReturnType<LeftoversRepository['lastSweep']>>;
}

type SetSample = (value: number, labels?: Record<string, string>) => void;

/**
 * Cluster-wide figures for Prometheus. They are read from PostgreSQL and the queue at scrape
 * time (each metric's `collect()`), not counted in this process: runs execute in other
 * processes, and any API replica must report the same truth. The registry is this app's own, so
 * several apps in one process (tests) do not register the same names twice.
 */
@Injectable()
export class MetricsService {
  private readonly registry = new Registry();
  private inFlight: Promise<Scrape> | null = null;

  constructor(
    private readonly runs: RunsRepository,
    private readonly queue: RunQueue,
    private readonly audit: AuditService,
    private readonly approvals: ApprovalsService,
    private readonly leftovers: LeftoversRepository,
    private readonly resilience: ResiliencePostureService,
  ) {
    this.gauge('runbookd_runs', 'Runs recorded, by state (ended states only grow).', ['state'], ({ stats }, set) => {
      const byState = new Map<string, number>(RUN_STATES.map((s) => [s, 0]));
      for (const r of stats.byState) byState.set(r.state, (byState.get(r.state) ?? 0) + r.count);
      for (const [state, n] of byState) set(n, { state });
    });
    this.gauge('runbookd_runs_by_runbook', 'Runs recorded, by runbook and state.', ['runbook', 'state'], ({ stats }, set) => {
      for (const r of stats.byState) set(r.count, { runbook: r.runbookId, state: r.state });
    });
    this.gauge('runbookd_active_runs', 'Runs queued, running or waiting, by runbook.', ['runbook'], ({ stats }, set) => {
      const active = new Map<string, number>();
      for (const r of stats.byState) {
        if (r.state === 'queued' || r.state === 'running' || r.state === 'waiting') active.set(r.runbookId, (active.get(r.runbookId) ?? 0) + r.count);
      }
      for (const [runbook, n] of active) set(n, { runbook });
    });
    this.gauge(
      'runbookd_oldest_active_run_age_seconds',
      'Age of the oldest run not yet ended (0 when none): alert when it exceeds your longest runbook.',
      [],
      ({ stats }, set) => set(stats.oldestActiveSeconds ?? 0),
    );
    this.counter(
      'runbookd_runs_dead_lettered',
      'Runs dead-lettered after too many failed executions (RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS); the main phase ends failed with RUN_DEAD_LETTERED.',
      (s) => s.stats.deadLettered,
    );
    this.gauge('runbookd_approvals_pending', 'Approval requests waiting for a decision.', [], ({ approvals }, set) => set(approvals.pending));
    this.gauge(
      'runbookd_oldest_pending_approval_age_seconds',
      'How long the oldest undecided approval request has waited (0 when none).',
      [],
      ({ approvals }, set) => set(approvals.oldestSeconds ?? 0),
    );
    this.counter('runbookd_audit_records', 'Records in the audit log (the chain head sequence number).', (s) => s.auditSeq);
    this.counter(
      'runbookd_audit_quarantined_records',
      'Audit rows the sealer refused to link because runbookd did not write them (no or a wrong record MAC): alert on any increase.',
      (s) => s.auditQuarantined,
    );
    this.gauge('runbookd_queue_up', '1 when the queue (Redis) answered this scrape.', [], ({ jobs }, set) => set(jobs ? 1 : 0));
    this.gauge('runbookd_queue_jobs', 'Jobs in the run queue, by BullMQ state.', ['state'], ({ jobs }, set) => {
      for (const [state, n] of Object.entries(jobs ?? {})) set(n, { state });
    });
    this.gauge(
      'runbookd_leaked_resources',
      'Expired runbookd-tagged resources whose run had ended, at the last janitor sweep: found, removed, not-removed (alert on not-removed).',
      ['type', 'state'],
      ({ sweep }, set) => {
        for (const c of sweep) set(c.count, { type: c.type, state: c.state });
      },
    );
    // From the posture last computed (cached; a scrape never waits on AWS): alert on breached > 0.
    const objectives: Gauge = new Gauge({
      name: 'runbookd_resilience_objectives',
      help: 'Objectives of tiered resources in the resilience posture, by tier, objective and verdict (met, breached, no-evidence, stale).',
      labelNames: ['tier', 'objective', 'verdict'],
      registers: [this.registry],
      collect: () => {
        objectives.reset();
        const counts = new Map<string, { tier: string; objective: string; verdict: string; n: number }>();
        for (const r of this.resilience.latest()?.resources ?? []) {
          for (const o of r.objectives) {
            const key = `${r.tier}\u0000${o.objective}\u0000${o.verdict}`;
            const c = counts.get(key) ?? { tier: r.tier ?? '', objective: o.objective, verdict: o.verdict, n: 0 };
            c.n++;
            counts.set(key, c);
          }
        }
        for (const c of counts.values()) objectives.set({ tier: c.tier, objective: c.objective, verdict: c.verdict }, c.n);
      },
    });
  }

  /** The Prometheus text exposition format's content type, as the registry writes it. */
  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  private gauge(name: string, help: string, labelNames: string[], fill: (s: Scrape, set: SetSample) => void): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect: async () => {
        const s = await this.scrape();
        // Series that are gone since the last scrape (a runbook with no active run) must not linger.
        gauge.reset();
        fill(s, (value, labels) => (labels ? gauge.set(labels, finite(value)) : gauge.set(finite(value))));
      },
    });
  }

  /** A total kept in the database: the counter is set to it, never counted up in this process. */
  private counter(name: string, help: string, read: (s: Scrape) => number): void {
    const counter: Counter = new Counter({
      name,
      help,
      registers: [this.registry],
      collect: async () => {
        const value = finite(read(await this.scrape()));
        counter.reset();
        counter.inc(value);
      },
    });
  }

  /** Every metric's collect() asks at once: one read of the database and the queue serves them all. */
  private scrape(): Promise<Scrape> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async read(): Promise<Scrape> {
    const [stats, head, jobs, approvals, sweep, auditQuarantined] = await Promise.all([
      this.runs.stats(),
      this.audit.head(),
      this.queue.jobCounts().catch(() => null),
      this.approvals.pendingStats(),
      this.leftovers.lastSweep(),
      this.audit.countQuarantined(),
    ]);
    return { stats, auditSeq: head.seq, auditQuarantined, jobs, approvals, sweep };
  }
}

function finite(n: number): number {
  return Number.isFinite(n) ? n : 0;
}
