import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { RequestError } from '../common/coded-error';
import { RunsRepository } from '../persistence/runs.repository';
import { buildRunReport } from '../reports/run-report.builder';
import type { RunReport } from '../reports/report.types';
import { EngineError } from './engine.error';
import { toReportInputs } from './report-inputs';
import { RunAccessService } from './run-access.service';
import { RunQueue } from './run-queue.adapter';
import { redactorFor } from './run-redactor';
import { isTerminal, RUN_STATES, RunRecord, RunState, StepResultRecord, TRIGGER_KINDS } from '../model/run.types';
import { StepRegistry } from '../steps/step-registry';
import type { PolicyActor } from '../policy/policy-access';

export interface RunView {
  id: string;
  runbookId: string;
  runbookDigest: string;
  state: RunState;
  phase: string;
  dryRun: boolean;
  reason: string | null;
  trigger: Record<string, unknown>;
  actor: string;
  parameters: Record<string, unknown>;
  concurrencyKey: string | null;
  error: unknown;
  cancelRequestedAt: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  links: { self: string; report: string; audit: string };
  /** The composite run that started this one. */
  parent?: { runId: string; stepId: string | null; link: string } | null;
  /** Runs this one started (composite runbooks), oldest first. */
  children?: Array<{ runId: string; runbookId: string; stepId: string | null; state: RunState; link: string }>;
  steps?: StepView[];
}

export interface ReportListItem {
  runId: string;
  runbookId: string;
  state: RunState;
  dryRun: boolean;
  trigger: string;
  createdAt: string;
  endedAt: string | null;
  findings: { passed: number; failed: number };
  /** Drill objectives (composite drills only). */
  objectives?: { passed: number; failed: number; notMeasured: number };
  links: { report: string; html: string; markdown: string; run: string };
}

export interface StepView {
  id: string;
  uses: string;
  phase: string;
  mutates: boolean;
  state: string;
  attempts: number;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  input: unknown;
  output: unknown;
  error: unknown;
  note: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Reading and cancelling runs; the view hides secrets the runbook marks writeOnly. */
@Injectable()
export class RunsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly audit: AuditService,
    private readonly queue: RunQueue,
    private readonly registry: StepRegistry,
    private readonly clock: Clock,
    private readonly access: RunAccessService,
  ) {}

  async get(id: string): Promise<RunRecord> {
    const run = await this.runs.get(id);
    if (!run) throw new EngineError('RUN_NOT_FOUND', `no run "${id}"`, { runId: id });
    return run;
  }

  async view(id: string): Promise<RunView> {
    const run = await this.get(id);
    const [steps, children] = await Promise.all([this.runs.steps(id), this.runs.children(id)]);
    const view = this.toView(run, steps);
    view.parent = run.parentRunId
      ? { runId: run.parentRunId, stepId: (run.trigger.parentStepId as string | undefined) ?? null, link: `/v1/runs/${run.parentRunId}` }
      : null;
    view.children = children.map((c) => ({
      runId: c.id,
      runbookId: c.runbookId,
      stepId: (c.trigger.parentStepId as string | undefined) ?? null,
      state: c.state,
      link: `/v1/runs/${c.id}`,
    }));
    return view;
  }

  /** Reports of a runbook's runs, newest first, paged like the run list. */
  async reports(q: { runbook?: string; cursor?: string; limit?: string }): Promise<{ items: ReportListItem[]; nextCursor: string | null }> {
    if (!q.runbook) throw new RequestError('INVALID_REQUEST', 'runbook is required, e.g. /v1/reports?runbook=monthly-dr-drill', { field: 'runbook' });
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      throw new RequestError('INVALID_REQUEST', 'limit must be an integer from 1 to 200', { field: 'limit' });
    }
    const before = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await this.runs.list({ runbookId: q.runbook, before, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((run) => {
        const report = run.report as unknown as RunReport | null;
        const findings = report?.findings ?? [];
        const objectives = (report as { drill?: { objectives?: Array<{ status: string }> } } | null)?.drill?.objectives;
        return {
          runId: run.id,
          runbookId: run.runbookId,
          state: run.state,
          dryRun: run.dryRun,
          trigger: run.trigger.kind,
          createdAt: run.createdAt.toISOString(),
          endedAt: iso(run.endedAt),
          findings: { passed: findings.filter((f) => f.passed).length, failed: findings.filter((f) => !f.passed).length },
          ...(objectives
            ? {
                objectives: {
                  passed: objectives.filter((o) => o.status === 'pass').length,
                  failed: objectives.filter((o) => o.status === 'fail').length,
                  notMeasured: objectives.filter((o) => o.status === 'not-measured').length,
                },
              }
            : {}),
          links: {
            report: `/v1/runs/${run.id}/report`,
            html: `/v1/runs/${run.id}/report?format=html`,
            markdown: `/v1/runs/${run.id}/report?format=md`,
            run: `/v1/runs/${run.id}`,
          },
        };
      }),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  async list(q: {
    runbook?: string;
    state?: string;
    trigger?: string;
    cursor?: string;
    limit?: string;
    q?: string;
    since?: string;
    until?: string;
  }): Promise<{ items: RunView[]; nextCursor: string | null }> {
    if (q.q !== undefined && q.q.length > 200) throw new RequestError('INVALID_REQUEST', 'q (search words) must be at most 200 characters', { field: 'q' });
    if (q.state && !(RUN_STATES as readonly string[]).includes(q.state)) {
      throw new RequestError('INVALID_REQUEST', `state must be one of ${RUN_STATES.join(', ')}`, { field: 'state' });
    }
    if (q.trigger && !(TRIGGER_KINDS as readonly string[]).includes(q.trigger)) {
      throw new RequestError('INVALID_REQUEST', `trigger must be one of ${TRIGGER_KINDS.join(', ')}`, { field: 'trigger' });
    }
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      throw new RequestError('INVALID_REQUEST', 'limit must be an integer from 1 to 200', { field: 'limit' });
    }
    const before = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await this.runs.list({
      runbookId: q.runbook,
      state: q.state as RunState | undefined,
      triggerKind: q.trigger,
      before,
      limit: limit + 1,
      text: q.q,
      since: timeParam('since', q.since),
      until: timeParam('until', q.until),
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => this.toView(r)),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  /** `by`: the person asking, whom the policy must allow to cancel this run; absent for runbookd's own cancels (a fleet's). */
  async cancel(id: string, actor: string, by?: PolicyActor): Promise<RunView> {
    const run = await this.get(id);
    if (by !== undefined) await this.access.assertMay(by, 'cancel', run);
    if (!(await this.runs.requestCancel(id, actor))) {
      throw new EngineError('RUN_NOT_CANCELLABLE', `run ${id} already ended (${run.state})`, { runId: id, state: run.state });
    }
    await this.audit.append({ kind: 'run.cancel-requested', runId: id, actor, data: { stateAtRequest: run.state } });
    // A waiting run would otherwise notice only at its next look.
    await this.queue.wake(id).catch(() => undefined);
    await this.cancelChildren(id, actor);
    return this.view(id);
  }

  /** A cancelled composite run cancels the children it started that are still going (and theirs). */
  async cancelChildren(parentRunId: string, actor: string): Promise<void> {
    for (const child of await this.runs.children(parentRunId)) {
      if (isTerminal(child.state)) continue;
      if (!(await this.runs.requestCancel(child.id, actor))) continue;
      await this.audit.append({ kind: 'run.cancel-requested', runId: child.id, actor, data: { stateAtRequest: child.state, parentRunId } });
      await this.queue.wake(child.id).catch(() => undefined);
      await this.cancelChildren(child.id, actor);
    }
  }

  /** The stored report of an ended run; for a run in progress, one built now from what is recorded. */
  async report(id: string): Promise<RunReport> {
    const run = await this.get(id);
    if (run.report && run.phase === 'done') return run.report as unknown as RunReport;
    return buildRunReport(...toReportInputs(run, await this.runs.steps(id), this.registry), this.clock.now());
  }

  private toView(run: RunRecord, steps?: StepResultRecord[]): RunView {
    // A secret parameter handed on to a step turns up under other keys (step input, output, errors).
    return redactorFor(run).apply<RunView>({
      id: run.id,
      runbookId: run.runbookId,
      runbookDigest: run.runbookDigest,
      state: run.state,
      phase: run.phase,
      dryRun: run.dryRun,
      reason: run.reason,
      trigger: run.trigger,
      actor: run.actor,
      parameters: run.parameters,
      concurrencyKey: run.concurrencyKey,
      error: run.error,
      cancelRequestedAt: iso(run.cancelRequestedAt),
      createdAt: run.createdAt.toISOString(),
      startedAt: iso(run.startedAt),
      endedAt: iso(run.endedAt),
      links: { self: `/v1/runs/${run.id}`, report: `/v1/runs/${run.id}/report`, audit: `/v1/audit?runId=${run.id}` },
      steps: steps?.map((s) => ({
        id: s.stepId,
        uses: s.uses,
        phase: s.phase,
        mutates: s.mutates,
        state: s.state,
        attempts: s.attempts,
        startedAt: s.startedAt.toISOString(),
        endedAt: iso(s.endedAt),
        durationMs: s.endedAt ? s.endedAt.getTime() - s.startedAt.getTime() : null,
        input: s.input,
        output: s.output,
        error: s.error,
        note: s.note,
      })),
    });
  }
}

function timeParam(field: string, value: string | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new RequestError('INVALID_REQUEST', `${field} must be an ISO 8601 time, e.g. 2026-05-01T00:00:00Z`, { field });
  }
  return d;
}

function encodeCursor(run: RunRecord): string {
  return Buffer.from(`${run.createdAt.toISOString()}|${run.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt))) {
    throw new RequestError('INVALID_REQUEST', 'cursor is not one this API returned', { field: 'cursor' });
  }
  return { createdAt, id };
}
