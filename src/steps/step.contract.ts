import type { Logger } from '@nestjs/common';
import type { AwsCallContext, PlannedCall } from '../aws/aws-call.types';
import type { TargetFacts } from '../aws/target-facts';
import type { RunRecord, RunTrigger } from '../model/run.types';
import type { ApprovalSpec } from '../model/runbook.types';
// What steps record for the report: part of a step's vocabulary, kept in the model so reports need not know the step contract.
export type { CreatedResource, Finding } from '../model/step-output.types';
// What a step type says about itself is model too: the runbook loader and the IAM policy read it without knowing the contract.
export type { IamNeed, StepDefinitionLike, StepMetadata } from '../model/step-metadata.types';
import type { StepDefinitionLike, StepMetadata } from '../model/step-metadata.types';

/**
 * The step contract. A step is one AWS thing or one wait, with declared input and output.
 * It ends one of three ways: `done(output)`, `wait(seconds)` (look again later: the worker is
 * freed meanwhile), or it throws a CodedError (`retryable` decides whether the engine retries).
 *
 * A step may be run again after a crash (the worker died mid-call), so a mutating step must be
 * safe to repeat: derive names from the run id, pass ClientTokens, or look before acting. The
 * `memory` it hands to `wait()` is checkpointed and given back on the next look.
 */

export interface StepType<I = Record<string, unknown>, O extends Record<string, unknown> = Record<string, unknown>> extends StepMetadata {
  run(input: I, ctx: StepContext): Promise<StepOutcome<O>>;
  /** Required when `mutates`: the exact AWS calls `run` would make, computed without making them. */
  plan?(input: I, ctx: StepContext): Promise<PlannedCall[]>;
  /** One line for the report's timeline. */
  summarize?(output: O): string;
  /**
   * Read-only: the resources this step would act on, with the facts runbookd reads about them
   * (account, tags). Preflight asks every step whose input is known from the parameters, and the
   * policy's approval rules are matched against the answers, never against the parameters.
   */
  targets?(input: I, ctx: StepContext): Promise<TargetFacts[]>;
  /** A generic step's type as shaped by one definition (`mutates:`, `outputs:`); see StepRegistry.forStep. */
  forDefinition?(def: StepDefinitionLike): StepType<I, O>;
}

export type StepOutcome<O> = { kind: 'done'; output: O } | { kind: 'wait'; afterSeconds: number; memory?: Record<string, unknown>; note?: string };

export function done<O>(output: O): StepOutcome<O> {
  return { kind: 'done', output };
}

export function wait<O = never>(afterSeconds: number, memory?: Record<string, unknown>, note?: string): StepOutcome<O> {
  return { kind: 'wait', afterSeconds, memory, note };
}

/** A run a step starts, as a child of the run the step is part of (runbook.run, fleet.run). */
export interface ChildRunRequest {
  runbookId: string;
  parameters: Record<string, unknown>;
  dryRun: boolean;
  reason: string;
  trigger: RunTrigger;
  /** Makes the start exactly-once: a step resumed after a crash asks again with the same key. */
  dedupeKey: string;
}

/**
 * What a step asks of the engine itself: starting and cancelling child runs, and holding the run
 * at an approval gate. The engine hands it in with the context. Injected instead, the services
 * behind it would close a cycle (they need the runbook catalog, which checks every runbook
 * against every step type at boot), which only a ModuleRef look-up could hide.
 */
export interface EngineCalls {
  startRun(req: ChildRunRequest): Promise<{ run: RunRecord; created: boolean }>;
  /** Asks a run to stop at its next safe point (the fleet's cancel reaching a child started meanwhile). */
  cancelRun(runId: string, actor: string): Promise<void>;
  /** One look of an approval gate for this step: done when approved, wait while pending, an error when rejected. */
  approvalGate(spec: ApprovalSpec): Promise<StepOutcome<Record<string, unknown>>>;
}

/** What a step knows about the run it is part of. */
export interface StepContext {
  runId: string;
  runbookId: string;
  stepId: string;
  /** 1 on the first call; grows on every retry, resume after a crash and look after a wait. */
  attempt: number;
  /** When this step was first started (survives waits and crashes). */
  startedAt: Date;
  /** What the step handed to `wait()` last time; empty on the first call. */
  memory: Record<string, unknown>;
  /**
   * Saves memory now, before a call that must not be repeated blindly: a step resumed after a
   * crash finds it in `memory` and knows the call may already have gone out (look before acting).
   */
  checkpoint(memory: Record<string, unknown>): Promise<void>;
  dryRun: boolean;
  /** When resources this run creates should be considered abandoned (tag `runbookd:expires-at`). */
  expiresAt: Date;
  /** Bound to this run and step, so every AWS call it makes is audited under them. */
  aws: AwsCallContext;
  log: Pick<Logger, 'log' | 'warn' | 'debug'>;
  /** Absent where no run is being executed (preflight, an approval's plan): nothing can be started there. */
  engine?: EngineCalls;
}

/** The engine's calls, or a coded error naming the step that needed them where there are none. */
export function engineOf(ctx: StepContext): EngineCalls {
  if (!ctx.engine) throw new EngineCallsMissing(ctx);
  return ctx.engine;
}

class EngineCallsMissing extends Error {
  constructor(ctx: StepContext) {
    super(
      `step ${ctx.stepId} of ${ctx.runbookId} needs the engine (to start runs or ask for approval), which this context (a preflight or a plan) does not give`,
    );
  }
}
