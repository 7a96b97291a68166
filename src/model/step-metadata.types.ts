import type { JsonSchema } from './runbook.types';

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
