import { Injectable, Optional } from '@nestjs/common';
import { CodedError } from '../../common/coded-error';
import { FaultInjector } from '../../faults/fault-injector';
import { inheritedPersonFields } from '../../engine/run-access.service';
import { RunReader } from '../../engine/run-reader.port';
import { isTerminal, type ChildRunState, type RunError, type RunRecord } from '../../model/run.types';
import { isInfrastructureError } from '../../engine/step-runner.service';
import { done, engineOf, type Finding, type StepContext, type StepType, wait } from '../../steps/step.contract';
import { bindTarget } from '../../fleets/fleet-request';
import type { FleetPlan, FleetSection, FleetTarget, FleetTargetRow, TargetOutcome } from '../../model/fleet.types';
import type { RunReport } from '../../reports/report.types';

interface Input {
  runbook: string;
  /** The fleet's common parameters; each child adds its target's binding. */
  parameters?: Record<string, unknown>;
  /** The `targets` record written when the fleet was accepted. */
  fleet: FleetPlan;
  /** Fallback look interval; a child that ends wakes its parent at once. */
  pollSeconds?: number;
}

export interface RunFleetOutput extends Record<string, unknown> {
  fleet: FleetSection;
  findings: Finding[];
  figures: Array<{ id: string; label: string; value: number }>;
}

/** The dedupe key of a target's child: one child per parent and target, whoever starts it and however often. */
export function fleetChildKey(parentRunId: string, index: number): string {
  return `fleet:${parentRunId}:${index}`;
}

const CHILD_KEY = /^fleet:[^:]+:(\d+)$/;
/** Worst first in the report. */
const SEVERITY: Record<TargetOutcome, number> = { refused: 0, failed: 0, aborted: 1, rejected: 2, cancelled: 3, skipped: 4, succeeded: 5 };

/**
 * A fleet's one step: starts one child run per recorded target (the `runbook.run` machinery:
 * the child has its own lease, locks, stop conditions, report and audit) under maxConcurrency
 * and maxErrors, and waits between looks without holding a worker. It keeps no list of what it
 * started: each look reads the children (one lean query) and finds each target's child by its
 * dedupe key, so a look repeated after a crash, even one that died between accepting a child and
 * recording anything, starts no target twice.
 *
 * SSM's rate control: once more targets failed than maxErrors allows, no further target starts;
 * the running ones finish and the rest end `skipped`. Cancel is the executor's (the parent ends
 * at its next look, RunsService cancels the children); a cancel that lands while this look starts
 * children is seen after it, and those children are cancelled here.
 */
@Injectable()
export class RunFleetStep implements StepType<Input, RunFleetOutput> {
  readonly uses = 'fleet.run';
  readonly description = 'Starts a child run per fleet target under maxConcurrency and maxErrors, and waits for them';
  readonly mutates = false;
  // Starts child runs; the targets were found (tag:GetResources) when the fleet was accepted.
  readonly iamActions = [];
  readonly startsRuns = true;
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['runbook', 'fleet'],
    properties: {
      runbook: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,62}$' },
      parameters: { type: 'object' },
      fleet: {
        type: 'object',
        required: ['targets', 'limits', 'bind'],
        properties: { targets: { type: 'array' }, limits: { type: 'object' }, bind: { type: 'object' } },
      },
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 600, default: 15 },
    },
  };
  readonly outputs = ['fleet', 'findings', 'figures'];

  constructor(
    // Children are started and cancelled through the context's engine calls (see EngineCalls for why not injected).
    private readonly runs: RunReader,
    @Optional() private readonly faults?: FaultInjector,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const { targets, limits } = input.fleet;
    const refused = { ...((ctx.memory.refused as Record<string, RunError> | undefined) ?? {}) };
    const children = childrenByTarget(ctx.runId, await this.runs.childStates(ctx.runId));
    const tally = () => count(targets, children, refused);
    let now = tally();

    if (now.failed <= limits.maxErrors && now.pending.length > 0 && now.running.length < limits.maxConcurrency) {
      // A cancel requested before this look starts nothing; the executor ends the run at its next look.
      if (!(await this.runs.cancelRequest(ctx.runId))) {
        const started = await this.startMore(input, ctx, now, children, refused);
        if (started.length > 0 && (await this.runs.cancelRequest(ctx.runId))) {
          // Requested while this look started them: the cascade may have read the children before these existed.
          for (const id of started)
            await engineOf(ctx)
              .cancelRun(id, 'fleet-cancel')
              .catch(() => undefined);
        }
        if (Object.keys(refused).length > 0) await ctx.checkpoint({ refused });
        now = tally();
      }
    }

    const finished = now.running.length === 0 && (now.pending.length === 0 || now.failed > limits.maxErrors);
    if (!finished) {
      const note = `${now.ended}/${targets.length} ended (${now.failed} failed), ${now.running.length} running, ${now.pending.length} pending`;
      return wait<RunFleetOutput>(input.pollSeconds ?? 15, { refused }, note);
    }
    return done(await this.output(input, ctx, refused, now.failed > limits.maxErrors));
  }

  summarize(o: RunFleetOutput): string {
    return o.fleet.summary;
  }

  /**
   * Starts pending targets in list order while there is room (maxConcurrency, and per account and
   * region), one at a time so a refusal counts before the next start. Returns the children started.
   */
  private async startMore(
    input: Input,
    ctx: StepContext,
    now: Tally,
    children: Map<number, ChildRunState>,
    refused: Record<string, RunError>,
  ): Promise<string[]> {
    const { limits, targets } = input.fleet;
    const parent = await this.runs.get(ctx.runId);
    const person = inheritedPersonFields(parent?.trigger);
    const perPlace = new Map<string, number>();
    for (const i of now.running) perPlace.set(place(targets[i]), (perPlace.get(place(targets[i])) ?? 0) + 1);
    let running = now.running.length;
    let failed = now.failed;
    const started: string[] = [];
    for (const i of now.pending) {
      if (running >= limits.maxConcurrency || failed > limits.maxErrors) break;
      const target = targets[i];
      const where = place(target);
      if (limits.maxConcurrencyPerAccountRegion !== null && (perPlace.get(where) ?? 0) >= limits.maxConcurrencyPerAccountRegion) continue;
      try {
        const { run } = await engineOf(ctx).startRun({
          runbookId: input.runbook,
          parameters: bindTarget({ resourceTypes: [target.resourceType], bind: input.fleet.bind }, input.parameters ?? {}, target),
          dryRun: ctx.dryRun,
          reason: `target ${target.index + 1}/${targets.length} (${target.arn}) of fleet run ${ctx.runId}`,
          trigger: {
            kind: 'parent',
            actor: ctx.aws.actor,
            parentRunId: ctx.runId,
            parentStepId: ctx.stepId,
            parentRunbookId: ctx.runbookId,
            fleetTarget: { index: target.index, arn: target.arn, account: target.account, region: target.region },
            ...person,
          },
          dedupeKey: fleetChildKey(ctx.runId, target.index),
        });
        children.set(i, {
          id: run.id,
          dedupeKey: run.dedupeKey,
          state: run.state,
          phase: run.phase,
          error: run.error,
          createdAt: run.createdAt,
          startedAt: run.startedAt,
          endedAt: run.endedAt,
        });
        started.push(run.id);
        if (!isTerminal(run.state) || run.phase !== 'done') {
          running++;
          perPlace.set(where, (perPlace.get(where) ?? 0) + 1);
        } else if (run.state !== 'succeeded') {
          failed++;
        }
        this.faults?.at('step:fleet-child:after');
      } catch (err) {
        // This process's own trouble (a database away, a lost lease) stops the look; the next one starts the target.
        if (!(err instanceof CodedError) || isInfrastructureError(err) || err.retryable) throw err;
        // The target's child could not be accepted (its parameters, its lock held, a preflight, the allow-list): that target failed.
        refused[String(i)] = { code: err.code, message: err.message };
        failed++;
        ctx.log.warn(`fleet ${ctx.runId}: target ${target.arn} refused: ${err.code}: ${err.message}`);
      }
    }
    return started;
  }

  private async output(input: Input, ctx: StepContext, refused: Record<string, RunError>, stopped: boolean): Promise<RunFleetOutput> {
    const { targets, limits } = input.fleet;
    const full = new Map<number, RunRecord>();
    for (const c of await this.runs.children(ctx.runId)) {
      const m = CHILD_KEY.exec(c.dedupeKey ?? '');
      if (m && c.dedupeKey === fleetChildKey(ctx.runId, Number(m[1]))) full.set(Number(m[1]), c);
    }
    const rows: FleetTargetRow[] = targets.map((t) => {
      const child = full.get(t.index);
      const base = { index: t.index, arn: t.arn, id: t.id, account: t.account, region: t.region };
      if (!child) {
        const r = refused[String(t.index)];
        return {
          ...base,
          outcome: r ? 'refused' : 'skipped',
          childRunId: null,
          durationSeconds: null,
          error: r ? { code: r.code, message: r.message } : null,
          figures: [],
          plannedCalls: null,
        };
      }
      const report = child.report as unknown as RunReport | null;
      return {
        ...base,
        outcome: child.state as TargetOutcome,
        childRunId: child.id,
        durationSeconds:
          report?.run.durationSeconds ?? (child.startedAt && child.endedAt ? (child.endedAt.getTime() - child.startedAt.getTime()) / 1000 : null),
        error: child.error ? { code: child.error.code, message: child.error.message } : null,
        figures: (report?.figures ?? []).map(({ stepId: _s, ...f }) => f),
        plannedCalls: child.dryRun ? (report?.plannedCalls?.length ?? 0) : null,
      };
    });
    rows.sort((a, b) => SEVERITY[a.outcome] - SEVERITY[b.outcome] || a.index - b.index);
    const passed = rows.filter((r) => r.outcome === 'succeeded').length;
    const skipped = rows.filter((r) => r.outcome === 'skipped').length;
    const failed = rows.length - passed - skipped;
    const summary = `${passed} passed, ${failed} failed, ${skipped} skipped`;
    const fleet: FleetSection = {
      runbookId: input.runbook,
      dryRun: ctx.dryRun,
      limits,
      counts: { total: rows.length, passed, failed, skipped },
      summary,
      stopped,
      targets: rows,
    };
    return {
      fleet,
      findings: [
        {
          id: 'fleet-max-errors',
          title: 'Failed targets within maxErrors',
          passed: failed <= limits.maxErrors,
          measured: failed,
          target: limits.maxErrors,
          detail: `${summary} of ${rows.length} target(s)${stopped ? '; no target started after the limit was passed' : ''}`,
        },
      ],
      figures: [
        { id: 'targets', label: 'Targets', value: rows.length },
        { id: 'passed', label: 'Passed', value: passed },
        { id: 'failed', label: 'Failed', value: failed },
        { id: 'skipped', label: 'Skipped', value: skipped },
      ],
    };
  }
}

interface Tally {
  /** Target indexes whose child has not ended. */
  running: number[];
  /** Target indexes with no child and no refusal, in list order. */
  pending: number[];
  failed: number;
  ended: number;
}

function childrenByTarget(parentRunId: string, rows: ChildRunState[]): Map<number, ChildRunState> {
  const out = new Map<number, ChildRunState>();
  for (const c of rows) {
    const m = CHILD_KEY.exec(c.dedupeKey ?? '');
    // Only this parent's keys: a child of another kind (a composite step's) is not a target.
    if (m && c.dedupeKey === fleetChildKey(parentRunId, Number(m[1]))) out.set(Number(m[1]), c);
  }
  return out;
}

function count(targets: FleetTarget[], children: Map<number, ChildRunState>, refused: Record<string, RunError>): Tally {
  const t: Tally = { running: [], pending: [], failed: 0, ended: 0 };
  for (const target of targets) {
    const c = children.get(target.index);
    if (!c) {
      if (refused[String(target.index)]) {
        t.failed++;
        t.ended++;
      } else {
        t.pending.push(target.index);
      }
    } else if (!isTerminal(c.state) || c.phase !== 'done') {
      t.running.push(target.index);
    } else {
      t.ended++;
      if (c.state !== 'succeeded') t.failed++;
    }
  }
  return t;
}

function place(t: FleetTarget): string {
  return `${t.account}/${t.region}`;
}
