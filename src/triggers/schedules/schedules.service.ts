import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service';
import { CodedError } from '../../common/coded-error';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { RunAcceptanceService } from '../../engine/run-acceptance.service';
import { Database } from '../../persistence/database';
import { SchedulesRepository, ScheduleTickRecord } from '../../persistence/schedules.repository';
import { parseDuration } from '../../runbooks/duration';
import { RunRedactor } from '../../engine/run-redactor';
import { RunbookCatalog } from '../../runbooks/runbook-catalog.service';
import type { ScheduleTrigger } from '../../model/runbook.types';
import { nextTick, ticksBetween } from '../../runbooks/cron-ticks';
import { ScheduleError } from './schedule.error';
import { ScheduleQueue } from './schedule-queue.adapter';

/** Default catch-up window for a missed tick. */
export const DEFAULT_CATCH_UP_SECONDS = 3600;
const MAX_CATCH_UP_TICKS = 1000;
const NEXT_FIRES_SHOWN = 3;

export interface ScheduleDefinition {
  /** `<runbook>.<schedule>`: the job scheduler id and the id in the API. */
  id: string;
  runbookId: string;
  scheduleId: string;
  cron: string;
  timezone: string;
  catchUpSeconds: number;
  parameters: Record<string, unknown>;
}

export interface ScheduleView {
  id: string;
  runbookId: string;
  scheduleId: string;
  cron: string;
  timezone: string;
  catchUpSeconds: number;
  parameters: Record<string, unknown>;
  paused: boolean;
  pausedAt: string | null;
  pausedBy: string | null;
  /** The reason given when it was paused, as audited (null while running). */
  pauseReason: string | null;
  /** Null while paused. */
  nextFireAt: string | null;
  /** The next few fires, from nextFireAt on (empty while paused). */
  nextFires: string[];
  /** The newest tick decided (run or skipped); a resume is not a tick. */
  lastTickAt: string | null;
  recentTicks: Array<{ tickAt: string; decision: 'run' | 'skipped' | 'refused'; reason: string | null; runId: string | null }>;
}

/** Every `schedule` trigger of the loaded runbooks. */
export function scheduleDefinitions(catalog: RunbookCatalog): ScheduleDefinition[] {
  const out: ScheduleDefinition[] = [];
  for (const { definition: def } of catalog.list()) {
    def.triggers.forEach((t, i) => {
      if (!('schedule' in t)) return;
      const s: ScheduleTrigger = t.schedule;
      const scheduleId = s.id ?? `schedule-${i}`;
      out.push({
        id: `${def.id}.${scheduleId}`,
        runbookId: def.id,
        scheduleId,
        cron: s.cron,
        timezone: s.timezone ?? 'UTC',
        catchUpSeconds: parseDuration(s.catchUp ?? '') ?? DEFAULT_CATCH_UP_SECONDS,
        parameters: s.parameters ?? {},
      });
    });
  }
  return out;
}

/**
 * Schedules: BullMQ job schedulers in Redis (when ticks fire), PostgreSQL (what each tick
 * became). A tick becomes a run through RunAcceptanceService with the dedupe key
 * `schedule:<runbook>:<schedule>:<tick ISO>`, and its decision (run or skipped) is a row whose
 * primary key is the tick, so replicas, retried jobs and the boot catch-up agree on one outcome.
 */
@Injectable()
export class SchedulesService {
  private readonly logger = new Logger('Schedules');
  /** This process, as it declares its schedules (one per boot: a restarted replica is a new one). */
  readonly replicaId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly catalog: RunbookCatalog,
    private readonly queue: ScheduleQueue,
    private readonly repo: SchedulesRepository,
    private readonly db: Database,
    private readonly acceptance: RunAcceptanceService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** A replica whose heartbeat is older than this is taken for gone: three missed rounds. */
  get declarationLiveMs(): number {
    return 3 * this.config.schedules.housekeepingIntervalMs;
  }

  definitions(): ScheduleDefinition[] {
    return scheduleDefinitions(this.catalog);
  }

  /**
   * Boot: declare this replica's schedules, upsert their schedulers (removed while paused), then
   * remove the schedulers no live replica declares. Removal goes by declarations, not by this
   * replica's files alone: during a rolling deploy, replicas with two runbook sets run at once,
   * and each must keep the other's schedules.
   */
  async sync(): Promise<void> {
    const defs = this.definitions();
    await this.repo.declare(
      this.replicaId,
      defs.map((d) => d.id),
    );
    for (const d of defs) {
      await this.repo.ensure(d.id, d.runbookId, d.scheduleId);
      const state = await this.repo.get(d.id);
      if (state?.pausedAt) await this.queue.remove(d.id);
      else await this.queue.upsert(d.id, d.cron, d.timezone);
    }
    await this.prune();
  }

  /** Heartbeat: this replica still declares its schedules. Every replica, every housekeeping round. */
  async heartbeat(): Promise<void> {
    await this.repo.declare(
      this.replicaId,
      this.definitions().map((d) => d.id),
    );
  }

  /** On shutdown: the schedules stop being kept alive by this replica at once, not after its heartbeat ages. */
  async withdraw(): Promise<void> {
    await this.repo.withdraw(this.replicaId);
  }

  /**
   * Removes every scheduler in Redis that no live replica declares (this one included), audited.
   * Also puts back this replica's own schedulers that Redis lost (a failover that dropped keys).
   */
  async prune(): Promise<string[]> {
    const own = this.definitions();
    const live = await this.repo.declaredByLiveReplicas(this.declarationLiveMs);
    for (const d of own) live.add(d.id);
    const inRedis = await this.queue.schedulers();
    const removed: string[] = [];
    for (const id of inRedis.keys()) {
      if (live.has(id)) continue;
      if (await this.queue.remove(id)) {
        removed.push(id);
        await this.audit.append({ kind: 'schedule.removed', actor: 'system', data: { scheduleId: id, reason: 'declared by no live replica' } });
        this.logger.log(`schedule ${id} removed: declared by no live replica`);
      }
    }
    for (const d of own) {
      if (inRedis.has(d.id)) continue;
      const state = await this.repo.get(d.id);
      if (state && !state.pausedAt) {
        await this.queue.upsert(d.id, d.cron, d.timezone);
        this.logger.warn(`schedule ${d.id}: its scheduler was missing from Redis and is back`);
      }
    }
    return removed;
  }

  /**
   * Catch-up: ticks since the newest decided one (or since the schedule was first loaded) that
   * no replica handled. The newest runs if it is within the schedule's catch-up window; the
   * others are recorded as skipped: a service down for a day should not start 24 drills. At
   * boot (`graceMs` 0) up to now; in the periodic rounds only ticks older than `graceMs`, so a
   * tick whose job is merely queued or being retried is left to it.
   */
  async catchUpAll(graceMs = 0): Promise<void> {
    for (const d of this.definitions()) {
      try {
        await this.catchUp(d, graceMs);
      } catch (err) {
        this.logger.warn(`catch-up of ${d.id} failed: ${(err as Error).message}`);
      }
    }
  }

  async catchUp(d: ScheduleDefinition, graceMs = 0): Promise<void> {
    const now = this.clock.now();
    const upTo = new Date(now.getTime() - graceMs);
    const when = graceMs > 0 ? 'by the periodic catch-up' : 'on boot';
    const skipped = await this.db.transaction(async (tx) => {
      const state = await this.repo.lock(d.id, tx);
      if (!state || state.pausedAt) return [];
      const after = state.lastTickAt && state.lastTickAt > state.registeredAt ? state.lastTickAt : state.registeredAt;
      // The newest 1000 at most: a fast schedule down for days is recorded in bounded form.
      const missed = ticksBetween(d.cron, d.timezone, after, upTo, MAX_CATCH_UP_TICKS);
      const out: ScheduleTickRecord[] = [];
      for (const [i, tick] of missed.entries()) {
        const newest = i === missed.length - 1;
        const inWindow = now.getTime() - tick.getTime() <= d.catchUpSeconds * 1000;
        const decision = newest && inWindow ? 'run' : 'skipped';
        const reason =
          decision === 'run'
            ? `missed tick caught up ${when}`
            : !inWindow
              ? `missed (no worker took it, or its job failed); older than the catch-up window (${d.catchUpSeconds}s)`
              : 'missed (no worker took it, or its job failed); only the newest missed tick is caught up';
        const { tick: t, created } = await this.repo.decide(d.id, tick, decision, reason, tx);
        if (created && t.decision === 'skipped') out.push(t);
      }
      return out;
    });
    await this.auditSkipped(d, skipped);
    await this.startDecidedRuns(d);
  }

  /** A tick job fired (on time, late, or retried): decide it once and start its run. */
  async onTick(scheduleId: string, tickAt: Date): Promise<void> {
    const d = this.definitions().find((x) => x.id === scheduleId);
    if (!d) {
      this.logger.warn(`tick of unknown schedule ${scheduleId} ignored (removed from the runbooks)`);
      return;
    }
    const now = this.clock.now();
    const skipped = await this.db.transaction(async (tx) => {
      const state = await this.repo.lock(d.id, tx);
      if (!state) return [];
      const late = now.getTime() - tickAt.getTime();
      const decision = state.pausedAt || late > d.catchUpSeconds * 1000 ? 'skipped' : 'run';
      const reason = state.pausedAt
        ? `schedule paused by ${state.pausedBy ?? 'unknown'}`
        : decision === 'skipped'
          ? `fired ${Math.round(late / 1000)}s late, outside the catch-up window (${d.catchUpSeconds}s)`
          : null;
      const { tick, created } = await this.repo.decide(d.id, tickAt, decision, reason, tx);
      return created && tick.decision === 'skipped' ? [tick] : [];
    });
    await this.auditSkipped(d, skipped);
    await this.startDecidedRuns(d);
  }

  /** Starts the run of every tick decided 'run' that has none yet (also after a crash in between). */
  private async startDecidedRuns(d: ScheduleDefinition): Promise<void> {
    for (const tick of await this.repo.unstarted(d.id)) {
      const tickIso = tick.tickAt.toISOString();
      try {
        const { run } = await this.acceptance.accept({
          runbookId: d.runbookId,
          parameters: d.parameters,
          dryRun: false,
          reason: `schedule ${d.scheduleId} (${d.cron} ${d.timezone}) tick ${tickIso}`,
          trigger: { kind: 'schedule', actor: `schedule:${d.id}`, scheduleId: d.id, tickAt: tickIso },
          dedupeKey: `schedule:${d.runbookId}:${d.scheduleId}:${tickIso}`,
        });
        await this.repo.setRunId(d.id, tick.tickAt, run.id);
      } catch (err) {
        if (!(err instanceof CodedError)) throw err;
        if (err.code === 'STOPPED') {
          // Everything is stopped: the tick is refused for good (not retried, not caught up after
          // resume-all), and recorded so the stop's cost is on record rather than lost silently.
          const reason = `run refused: ${err.code}: ${err.message}`;
          await this.repo.markSkipped(d.id, tick.tickAt, reason, 'refused');
          await this.audit.append({
            kind: 'schedule.tick-refused',
            actor: `schedule:${d.id}`,
            data: { scheduleId: d.id, runbookId: d.runbookId, tickAt: tickIso, reason, ...err.details },
          });
          this.logger.warn(`schedule ${d.id}: tick ${tickIso} refused (${err.message})`);
          continue;
        }
        // AWS throttled or away during preflight, the database timed out: not a refusal. The tick
        // stays 'run' without a run; the job's retry or a later catch-up starts it, until the
        // catch-up window has passed (then it is skipped, with the last error as the reason).
        if (err.retryable && this.clock.nowMs() - tick.tickAt.getTime() <= d.catchUpSeconds * 1000) throw err;
        // Refused for good (parameters no longer valid, the previous run still holds the guard):
        // the tick is skipped, with the reason on record.
        const reason = err.retryable
          ? `run not started within the catch-up window (${d.catchUpSeconds}s): ${err.code}: ${err.message}`
          : `run refused: ${err.code}: ${err.message}`;
        await this.repo.markSkipped(d.id, tick.tickAt, reason);
        await this.auditSkipped(d, [{ ...tick, decision: 'skipped', reason }]);
      }
    }
  }

  private async auditSkipped(d: ScheduleDefinition, ticks: ScheduleTickRecord[]): Promise<void> {
    if (ticks.length === 0) return;
    await this.audit.appendMany(
      ticks.map((t) => ({
        kind: 'schedule.tick-skipped' as const,
        actor: `schedule:${d.id}`,
        data: { scheduleId: d.id, runbookId: d.runbookId, tickAt: t.tickAt.toISOString(), reason: t.reason },
      })),
    );
    this.logger.warn(`schedule ${d.id}: ${ticks.length} tick(s) skipped (${ticks[ticks.length - 1].reason})`);
  }

  async list(): Promise<ScheduleView[]> {
    const defs = this.definitions();
    const [states, next] = await Promise.all([this.repo.all(), this.queue.schedulers().catch(() => new Map<string, number | null>())]);
    const byId = new Map(states.map((s) => [s.id, s]));
    const views: ScheduleView[] = [];
    for (const d of defs) {
      const s = byId.get(d.id);
      const paused = !!s?.pausedAt;
      // Redis knows when the scheduler fires next; computed from the pattern when Redis is away.
      const nextMs = paused ? null : (next.get(d.id) ?? nextTick(d.cron, d.timezone, this.clock.now()).getTime());
      const nextFires: string[] = [];
      for (let at = nextMs; at !== null && nextFires.length < NEXT_FIRES_SHOWN; at = nextTick(d.cron, d.timezone, new Date(at)).getTime()) {
        nextFires.push(new Date(at).toISOString());
      }
      const recentTicks = await this.repo.recentTicks(d.id, 10);
      views.push({
        id: d.id,
        runbookId: d.runbookId,
        scheduleId: d.scheduleId,
        cron: d.cron,
        timezone: d.timezone,
        // The schedule's parameters may hold a writeOnly value written in the YAML: shown redacted.
        catchUpSeconds: d.catchUpSeconds,
        parameters: new RunRedactor(this.catalog.get(d.runbookId).definition, d.parameters).apply(d.parameters),
        paused,
        pausedAt: s?.pausedAt?.toISOString() ?? null,
        pausedBy: s?.pausedBy ?? null,
        pauseReason: paused ? await this.pauseReason(d.id) : null,
        nextFireAt: nextMs === null ? null : new Date(nextMs).toISOString(),
        nextFires,
        // Not the state's last_tick_at: a resume moves that on (so the catch-up starts there) without a tick.
        lastTickAt: recentTicks[0]?.tickAt.toISOString() ?? null,
        recentTicks: recentTicks.map((t) => ({
          tickAt: t.tickAt.toISOString(),
          decision: t.decision,
          reason: t.reason,
          runId: t.runId,
        })),
      });
    }
    return views;
  }

  async view(id: string): Promise<ScheduleView> {
    const v = (await this.list()).find((x) => x.id === id);
    if (!v) throw this.notFound(id);
    return v;
  }

  /** The reason is audited, so whoever finds the drill not running reads why (the console asks for one). */
  async pause(id: string, actor: string, reason: string | null = null): Promise<ScheduleView> {
    const d = this.get(id);
    await this.repo.ensure(d.id, d.runbookId, d.scheduleId);
    await this.db.transaction(async (tx) => {
      await this.repo.setPaused(d.id, actor, tx);
      await this.audit.append({ kind: 'schedule.paused', actor, data: { scheduleId: d.id, runbookId: d.runbookId, reason } }, tx);
    });
    await this.queue.remove(d.id);
    return this.view(id);
  }

  async resume(id: string, actor: string): Promise<ScheduleView> {
    const d = this.get(id);
    await this.repo.ensure(d.id, d.runbookId, d.scheduleId);
    await this.db.transaction(async (tx) => {
      await this.repo.setPaused(d.id, null, tx);
      await this.audit.append({ kind: 'schedule.resumed', actor, data: { scheduleId: d.id, runbookId: d.runbookId } }, tx);
    });
    await this.queue.upsert(d.id, d.cron, d.timezone);
    return this.view(id);
  }

  /** The reason of the newest pause, read back from the audit log where it was recorded. */
  private async pauseReason(scheduleId: string): Promise<string | null> {
    const records = await this.audit.list({ kind: 'schedule.paused', order: 'desc', limit: 200 });
    const reason = records.find((r) => r.data.scheduleId === scheduleId)?.data.reason;
    return typeof reason === 'string' ? reason : null;
  }

  private get(id: string): ScheduleDefinition {
    const d = this.definitions().find((x) => x.id === id);
    if (!d) throw this.notFound(id);
    return d;
  }

  private notFound(id: string): ScheduleError {
    return new ScheduleError('SCHEDULE_NOT_FOUND', `no schedule "${id}" (schedule ids are <runbook>.<schedule>)`, {
      scheduleId: id,
      known: this.definitions().map((d) => d.id),
    });
  }
}
