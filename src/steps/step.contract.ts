import type { Logger } from '@nestjs/common';
import type { AwsCallContext, PlannedCall } from '../aws/aws-call.types';
import type { TargetFacts } from '../aws/target-facts';
import type { JsonSchema } from '../model/runbook.types';
// What steps record for the report: part of a step's vocabulary, kept in the model so reports need not know the step contract.
export type { CreatedResource, Finding } from '../model/step-output.types';

/**
 * The step contract. A step is one AWS thing or one wait, with declared input and output.
 * It ends one of three ways: `done(output)`, `wait(seconds)` (look again later: the worker is
 * freed meanwhile), or it throws a CodedError (`retryable` decides whether the engine retries).
 *
 * A step may be run again after a crash (the worker died mid-call), so a mutating step must be
 * safe to repeat: derive names from the run id, pass ClientTokens, or look before acting. The
 * `memory` it hands to `wait()` is checkpointed and given back on the next look.
 */

/**
 * What a step type says about itself, which is all the runbook loader, the IAM policy and the
 * catalog need: no step is run to know it.
 */
export interface StepMetadata {
  /** Name used by runbooks: `<service>.<verb-noun>`, e.g. `rds.failover`. */
  readonly uses: string;
  readonly description: string;
  /** True when the step changes anything outside runbookd; such steps are planned, not run, in dry-run. */
  readonly mutates: boolean;
  /**
   * True when the step starts other runs (`runbook.run`): it changes nothing in AWS itself, but what
   * it starts will, so it gets the cancel and guard-alarm checks a mutating step gets before it runs.
   */
  readonly startsRuns?: boolean;
  /** JSON Schema of the resolved `with:` input, compiled when the registry is built and checked before every call. */
  readonly input: JsonSchema;
  /** Output fields later steps may reference as `steps.<id>.<field>`; checked when runbooks load. */
  readonly outputs: readonly string[];
  /**
   * The IAM actions a fixed step type can call, in every branch (a failover step may fail a
   * cluster over or reboot an instance): what the runbook's least-privilege policy grants.
   */
  readonly iamActions?: readonly string[];
  /** A generic step's IAM needs for one definition (aws.*), in place of `iamActions`. */
  iamNeeds?(def: StepDefinitionLike): IamNeed[];
  /**
   * Problems with one definition that only this type can see (an unknown API, an undeclared
   * mutating call, a bad JMESPath), reported by the loader at boot with file and path.
   */
  checkDefinition?(def: StepDefinitionLike): Array<{ path: string; reason: string }>;
}

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

/** The parts of a runbook step definition a step type may read about itself. */
export interface StepDefinitionLike {
  id?: string;
  uses: string;
  with?: Record<string, unknown>;
  mutates?: boolean;
  outputs?: Record<string, string>;
}

/** One IAM permission a step needs: an action (`rds:CreateDBSnapshot`) on resources (`*` when not named). */
export interface IamNeed {
  action: string;
  resources?: string[];
}

export type StepOutcome<O> =
  | { kind: 'done'; output: O }
  | { kind: 'wait'; afterSeconds: number; memory?: Record<string, unknown>; note?: string };

export function done<O>(output: O): StepOutcome<O> {
  return { kind: 'done', output };
}

export function wait<O = never>(afterSeconds: number, memory?: Record<string, unknown>, note?: string): StepOutcome<O> {
  return { kind: 'wait', afterSeconds, memory, note };
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
}
