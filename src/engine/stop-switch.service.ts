import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { Database } from '../persistence/database';
import { StopSwitchRepository, StopSwitchState } from '../persistence/stop-switch.repository';
import { EngineError } from './engine.error';
import { RunQueue } from './run-queue.adapter';

export interface StopSwitchView {
  stopped: boolean;
  stoppedAt: string | null;
  stoppedBy: string | null;
  reason: string | null;
  resumedAt: string | null;
  resumedBy: string | null;
}

export interface StopAllResult extends StopSwitchView {
  /** Runs that were asked to stop (each stops at its next safe point and runs its cleanup). */
  runsStopping: string[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function stopSwitchView(s: StopSwitchState): StopSwitchView {
  return { stopped: s.stopped, stoppedAt: iso(s.stoppedAt), stoppedBy: s.stoppedBy, reason: s.reason, resumedAt: iso(s.resumedAt), resumedBy: s.resumedBy };
}

/**
 * The stop button. Its state is one PostgreSQL row, so every API and worker process sees the
 * same switch and a restart keeps it. Stopping asks every active run to cancel through the
 * ordinary cancel request (the executor stops it before its next mutating step or at the next
 * look of a wait, and runs its cleanup); while stopped, acceptance refuses every new run with
 * STOPPED (manual, CLI, schedule ticks, alarms, child runs).
 */
@Injectable()
export class StopSwitchService {
  private readonly logger = new Logger('StopSwitch');

  constructor(
    private readonly db: Database,
    private readonly repo: StopSwitchRepository,
    private readonly audit: AuditService,
    private readonly queue: RunQueue,
  ) {}

  async state(): Promise<StopSwitchView> {
    return stopSwitchView(await this.repo.state());
  }

  /** Throws STOPPED (423) naming who stopped everything and why, while the switch is on. */
  async assertRunning(): Promise<void> {
    const s = await this.repo.state();
    if (s.stopped) throw stoppedError(s);
  }

  async stopAll(actor: string, reason: string): Promise<StopAllResult> {
    const { state, runIds } = await this.db.transaction(async (tx) => {
      const current = await this.repo.lock(tx);
      if (current.stopped) {
        throw new EngineError(
          'STOP_SWITCH_UNCHANGED',
          `everything is already stopped, by ${current.stoppedBy ?? 'unknown'} at ${iso(current.stoppedAt)}: ${current.reason ?? ''}`,
          stopDetails(current),
        );
      }
      const next = await this.repo.stop(actor, reason, tx);
      // In the switch's transaction: a run accepted after this commit is refused; one whose
      // acceptance raced it is caught by the executor's check, which reads the switch too.
      const ids = await this.repo.markActiveRuns(actor, reason, tx);
      await this.audit.append({ kind: 'governance.stopped-all', actor, data: { reason, runsStopping: ids.length, runIds: ids.slice(0, 500) } }, tx);
      return { state: next, runIds: ids };
    });
    this.logger.warn(`stop-all by ${actor}: ${reason} (${runIds.length} run(s) asked to stop)`);
    // A run sitting in a delayed job would otherwise notice only at its next look.
    await Promise.all(runIds.map((id) => this.queue.wake(id).catch(() => undefined)));
    return { ...stopSwitchView(state), runsStopping: runIds };
  }

  async resumeAll(actor: string, reason: string | null): Promise<StopSwitchView> {
    const state = await this.db.transaction(async (tx) => {
      const current = await this.repo.lock(tx);
      if (!current.stopped) throw new EngineError('STOP_SWITCH_UNCHANGED', 'nothing is stopped: resume-all has nothing to lift', { stopped: false });
      const next = await this.repo.resume(actor, tx);
      await this.audit.append(
        {
          kind: 'governance.resumed-all',
          actor,
          data: { reason, stoppedBy: current.stoppedBy, stoppedAt: iso(current.stoppedAt), stopReason: current.reason },
        },
        tx,
      );
      return next;
    });
    this.logger.warn(`resume-all by ${actor}${reason ? `: ${reason}` : ''}`);
    return stopSwitchView(state);
  }
}

function stopDetails(s: StopSwitchState): Record<string, unknown> {
  return { stoppedBy: s.stoppedBy, stoppedAt: iso(s.stoppedAt), reason: s.reason };
}

export function stoppedError(s: StopSwitchState): EngineError {
  return new EngineError(
    'STOPPED',
    `everything is stopped (stop-all by ${s.stoppedBy ?? 'unknown'} at ${iso(s.stoppedAt)}: ${s.reason ?? 'no reason given'}); no new run starts until an admin runs resume-all`,
    stopDetails(s),
  );
}
