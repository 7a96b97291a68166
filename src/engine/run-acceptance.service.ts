import { createHash } from 'node:crypto';
import { Injectable, Logger, Optional } from '@nestjs/common';
import { TracingService } from '../tracing/tracing.service';
import { AuditService } from '../audit/audit.service';
import { AuthError } from '../auth/auth.error';
import { TargetPolicyService } from '../auth/target-policy.service';
import type { TargetFacts } from '../aws/target-facts';
import type { PolicyActor } from '../policy/policy-access';
import { PolicyService } from '../policy/policy.service';
import { canonicalJson } from '../common/canonical-json';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { Database } from '../persistence/database';
import { AcceptanceWrite, AcceptanceWritesRepository } from '../persistence/acceptance-writes.repository';
import { databaseGroupCommit, GroupCommit } from '../persistence/group-commit';
import { NewRun, RunsRepository } from '../persistence/runs.repository';
import type { SnsMessageRecord } from '../persistence/sns-messages.repository';
import type { AuditEventInput } from '../audit/audit.types';
import { parseDuration } from '../runbooks/duration';
import { resolveValue, UnresolvedExpression } from '../runbooks/expressions';
import { RunbookCatalog } from '../runbooks/runbook-catalog.service';
import { RunbookError } from '../runbooks/runbook.error';
import type { ManualTrigger, RunbookDefinition } from '../model/runbook.types';
import { EngineError } from './engine.error';
import { PreflightService } from './preflight.service';
import { personOfTrigger } from './run-access.service';
import { newRunId } from './run-id';
import { RunQueue } from './run-queue.adapter';
import { RunRedactor } from './run-redactor';
import { RunSecretsService } from './run-secrets.service';
import { StopSwitchService } from './stop-switch.service';
import type { RunRecord, RunTrigger, StepResultRecord } from '../model/run.types';

export interface AcceptRunCommand {
  runbookId: string;
  parameters: unknown;
  dryRun: boolean;
  reason: string | null;
  trigger: RunTrigger;
  /** Makes a repeat of the same trigger a no-op: Idempotency-Key, SNS MessageId, schedule tick. */
  dedupeKey: string | null;
  /**
   * The run's own definition and its checked parameters, derived from the runbook by the caller
   * (a fleet's parent run: one step that starts a child per target). Absent: the runbook as
   * loaded, with `parameters` checked against its schema here.
   */
  derived?: { definition: RunbookDefinition; parameters: Record<string, unknown> };
  /**
   * What else the request asked for, beyond its parameters, that an Idempotency-Key repeat must
   * match (a fleet's targets and rate control): hashed with the parameters, so the same key with
   * other targets is refused rather than answered with the first fleet.
   */
  requestScope?: Record<string, unknown>;
  /**
   * The trigger's own record of the new run (given its id), committed with the run (the SNS
   * webhook records the message there): one commit instead of two, and neither without the other.
   */
  also?: (runId: string) => AcceptedAlso;
}

export interface AcceptedAlso {
  snsMessage?: SnsMessageRecord;
  events?: AuditEventInput[];
  /** Step results known before the run starts (a fleet's resolved targets), committed with it like preflight's. */
  steps?: StepResultRecord[];
}

export interface AcceptedRun {
  run: RunRecord;
  /** False when the dedupe key matched an existing run and nothing new was started. */
  created: boolean;
}

/** How long past its own deadline a resource a run created counts as abandoned. */
const EXPIRY_GRACE_SECONDS = 24 * 3600;

/**
 * Turns a trigger into a run. The run row (and its audit record) is committed before anything
 * is acknowledged; the queue job comes after, and the reconciler covers a crash in between.
 */
@Injectable()
export class RunAcceptanceService {
  private readonly logger = new Logger('RunAcceptance');
  /** New runs from concurrent triggers (an alarm storm) go in one statement and one commit. */
  private readonly writes: GroupCommit<AcceptanceWrite, RunRecord | null>;

  constructor(
    db: Database,
    private readonly runs: RunsRepository,
    private readonly catalog: RunbookCatalog,
    private readonly audit: AuditService,
    private readonly queue: RunQueue,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly preflight: PreflightService,
    private readonly targets: TargetPolicyService,
    private readonly policy: PolicyService,
    private readonly secrets: RunSecretsService,
    private readonly stopSwitch: StopSwitchService,
    writesRepository: AcceptanceWritesRepository,
    // Optional so tests can build acceptance without tracing.
    @Optional() private readonly tracing?: TracingService,
  ) {
    this.writes = databaseGroupCommit(db, (items) => writesRepository.write(items, this.clock.now()));
  }

  async accept(cmd: AcceptRunCommand): Promise<AcceptedRun> {
    const loaded = this.catalog.get(cmd.runbookId);
    const def = cmd.derived?.definition ?? loaded.definition;
    this.checkTriggerAllowed(cmd);
    const parameters = cmd.derived ? cmd.derived.parameters : this.catalog.validateParameters(def.id, cmd.parameters);
    // Accounts, roles and regions outside the allow-list are refused before anything is recorded or called.
    this.targets.check(def.id, parameters);
    // Who may run it: at once when the person's grant holds everywhere, otherwise on the targets' facts after preflight.
    const person = personOfTrigger(cmd.trigger);
    // A fleet's parent names no target of its own: each child is decided on its target.
    const factsNeeded = person !== null && this.policy.needsTargetFacts(person, 'run', def.id);
    if (person !== null && !factsNeeded) this.assertMayRun(person, def.id);
    // While everything is stopped no run starts, whatever started it (a person, a schedule tick,
    // an alarm, a parent run): 423 naming who stopped it and why. Checked before preflight asks AWS anything.
    await this.stopSwitch.assertRunning();
    const requestHash = createHash('sha256')
      .update(canonicalJson({ runbookId: def.id, parameters, dryRun: cmd.dryRun, ...(cmd.requestScope ? { scope: cmd.requestScope } : {}) }))
      .digest('hex');

    // A repeat is found before preflight spends AWS calls on it; without preflight, the insert
    // below finds it anyway (one statement fewer for every new run).
    if (cmd.dedupeKey && (def.preflight ?? []).length > 0) {
      const existing = await this.runs.findByDedupeKey(cmd.dedupeKey);
      if (existing) return this.deduplicated(existing, cmd, requestHash);
    }
    const id = newRunId(this.clock.nowMs());
    const concurrencyKey = this.resolveGuardKey(def.guards.concurrency, parameters, id);
    const timeoutSeconds = parseDuration(def.guards.timeout ?? '') ?? this.config.runs.defaultTimeoutSeconds;
    const expiresAt = new Date(this.clock.nowMs() + (timeoutSeconds + EXPIRY_GRACE_SECONDS) * 1000);
    // Before anything is recorded: a refused preflight leaves no run, no audit record, no AWS change.
    const preflightRequest = { definition: def, parameters, runId: id, actor: cmd.trigger.actor, dryRun: cmd.dryRun, expiresAt };
    const preflight = await this.preflight.run(preflightRequest);
    // Whether it needs an approval is decided from the targets' facts, and the run is recorded with that gate.
    const approval = await this.preflight.approval(preflightRequest, preflight, factsNeeded && !cmd.derived);
    if (person !== null && factsNeeded && !cmd.derived) this.assertMayRun(person, def.id, approval.targets);
    const newRun: NewRun = {
      // Stored sealed: writeOnly values never reach the database in plain text (the request hash above is of the plain request).
      id,
      runbookId: def.id,
      runbookDigest: loaded.digest,
      definition: approval.definition,
      parameters: this.secrets.seal(def, id, parameters),
      dryRun: cmd.dryRun,
      reason: cmd.reason,
      trigger: this.traced(cmd.trigger),
      actor: cmd.trigger.actor,
      dedupeKey: cmd.dedupeKey,
      requestHash,
      concurrencyKey,
      expiresAt,
      parentRunId: cmd.trigger.kind === 'parent' ? String(cmd.trigger.parentRunId) : null,
    };
    const acceptedEvent: AuditEventInput = {
      kind: 'run.accepted',
      runId: id,
      actor: cmd.trigger.actor,
      data: new RunRedactor(def, parameters).apply({
        runbookId: def.id,
        runbookDigest: loaded.digest,
        trigger: cmd.trigger,
        parameters,
        dryRun: cmd.dryRun,
        reason: cmd.reason,
        concurrencyKey,
        ...(preflight.length > 0 ? { preflight: preflight.map((p) => ({ stepId: p.stepId, state: p.state, note: p.note })) } : {}),
        ...(approval.requirement.reasons.length > 0 ? { approval: approval.requirement } : {}),
      }),
    };
    const also = cmd.also?.(id) ?? {};

    // New runs from concurrent triggers commit together in one statement. A run that collides with
    // a key comes back null, and the key says why: a repeat (the run that has it) or a concurrency
    // guard (the run that holds it). A holder that ended in between frees the key: try again.
    const write: AcceptanceWrite = {
      run: newRun,
      events: [acceptedEvent, ...(also.events ?? [])],
      steps: [...preflight, ...(also.steps ?? [])],
      snsMessage: also.snsMessage,
    };
    let run: RunRecord | null = null;
    for (let attempt = 1; !run; attempt++) {
      run = await this.writes.submit(write);
      if (run) break;
      if (cmd.dedupeKey) {
        const existing = await this.runs.findByDedupeKey(cmd.dedupeKey);
        if (existing) return this.deduplicated(existing, cmd, requestHash);
      }
      const holder = concurrencyKey ? await this.runs.findActiveByConcurrencyKey(concurrencyKey) : null;
      if (holder) throw this.conflict(concurrencyKey!, holder);
      if (attempt === 3) {
        throw new EngineError('CONCURRENCY_CONFLICT', `the run's keys changed hands while it was being accepted; try again`, {
          concurrencyKey,
          dedupeKey: cmd.dedupeKey,
        });
      }
    }

    await this.enqueue(run.id);
    this.logger.log(`accepted ${run.id} (${def.id}${cmd.dryRun ? ', dry run' : ''}) from ${cmd.trigger.kind}:${cmd.trigger.actor}`);
    return { run, created: true };
  }

  /** Enqueue after commit; if Redis is away the run stays accepted and the reconciler enqueues it. */
  async enqueue(runId: string): Promise<void> {
    try {
      await this.queue.enqueue(runId);
    } catch (err) {
      this.logger.warn(`run ${runId} is recorded but not yet queued (${(err as Error).message}); the reconciler will queue it`);
    }
  }

  /**
   * The trigger as stored with the run, with the trace it was accepted in (W3C traceparent):
   * every execution of the run, on any worker and after any crash, puts its steps in that trace.
   */
  private traced(trigger: RunTrigger): RunTrigger {
    const tracing = this.tracing;
    if (!tracing?.enabled) return trigger;
    let traceparent = tracing.traceparent();
    if (!traceparent) {
      // A trigger with no span of its own still gets a trace: a root that marks the acceptance.
      const root = tracing.start('run accepted', { root: true, attributes: { 'runbookd.trigger': trigger.kind } });
      traceparent = root?.traceparent();
      root?.end();
    }
    return traceparent ? { ...trigger, traceparent } : trigger;
  }

  private async deduplicated(existing: RunRecord, cmd: AcceptRunCommand, requestHash: string): Promise<AcceptedRun> {
    if (existing.requestHash && existing.requestHash !== requestHash && (cmd.trigger.kind === 'rest' || cmd.trigger.kind === 'cli')) {
      throw new EngineError(
        'IDEMPOTENCY_KEY_REUSED',
        `this Idempotency-Key was already used for run ${existing.id} with different parameters or targets; use a new key for a new request`,
        { runId: existing.id },
      );
    }
    await this.audit.append({
      kind: 'run.deduplicated',
      runId: existing.id,
      actor: cmd.trigger.actor,
      data: { dedupeKey: cmd.dedupeKey, trigger: cmd.trigger },
    });
    return { run: existing, created: false };
  }

  private conflict(key: string, holder: RunRecord): EngineError {
    return new EngineError(
      'CONCURRENCY_CONFLICT',
      `run ${holder.id} (${holder.runbookId}, ${holder.state}) already holds "${key}"; wait for it to end or cancel it`,
      { concurrencyKey: key, holder: { runId: holder.id, runbookId: holder.runbookId, state: holder.state, actor: holder.actor } },
    );
  }

  private resolveGuardKey(template: string | undefined, params: Record<string, unknown>, runId: string): string | null {
    if (!template) return null;
    try {
      const v = resolveValue(template, { params, run: { id: runId }, defaults: { region: this.config.aws.region } });
      return v === undefined || v === '' ? null : String(v);
    } catch (err) {
      if (err instanceof UnresolvedExpression) {
        throw new RunbookError('PARAMETERS_INVALID', `the concurrency guard needs ${err.expression}`, {
          errors: [{ field: err.path.slice(1).join('.') || err.expression, message: 'required by the concurrency guard' }],
        });
      }
      throw err;
    }
  }

  private assertMayRun(person: PolicyActor, runbookId: string, targets?: TargetFacts[]): void {
    const decision = this.policy.decide(person, 'run', runbookId, targets);
    if (!decision.allowed) throw new AuthError('FORBIDDEN', `${person.name} may not run ${runbookId}: ${decision.why}`, { action: 'run', runbookId });
  }

  private checkTriggerAllowed(cmd: AcceptRunCommand): void {
    // A child run started on behalf of a person (its parent carries their role) is checked as if they started it.
    const byPerson = cmd.trigger.kind === 'rest' || cmd.trigger.kind === 'cli' || (cmd.trigger.kind === 'parent' && typeof cmd.trigger.role === 'string');
    if (!byPerson) return;
    const def = this.catalog.get(cmd.runbookId).definition;
    const manual = def.triggers.find((t): t is { manual: ManualTrigger } => 'manual' in t);
    const role = cmd.trigger.role as string | undefined;
    if (!manual) {
      throw new RunbookError('TRIGGER_NOT_ALLOWED', `runbook ${def.id} cannot be started by hand (it has no manual trigger)`);
    }
    const roles = manual.manual.roles;
    if (roles && roles.length > 0 && role && !roles.includes(role as 'operator' | 'admin')) {
      throw new RunbookError('TRIGGER_NOT_ALLOWED', `runbook ${def.id} may be started by ${roles.join(' or ')} only`);
    }
  }
}
