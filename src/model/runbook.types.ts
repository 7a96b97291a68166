/** A JSON Schema document (a runbook's parameters, a step type's input). */
export type JsonSchema = Record<string, unknown>;

/** A runbook as written in `runbooks/<id>.yaml`, after schema validation. */
export interface RunbookDefinition {
  id: string;
  title: string;
  description?: string;
  /** JSON Schema of the run's parameters; validated before a run is accepted. */
  parameters: JsonSchema;
  guards: RunbookGuards;
  /**
   * Read-only steps run while the run is being accepted, before it is recorded: a failed finding
   * or error refuses the request with a 400 (nothing recorded, nothing changed). Their outputs
   * are recorded with the run and visible to later steps as `steps.<id>.<output>`. Optional
   * because definitions stored with older runs have none.
   */
  preflight?: StepDefinition[];
  steps: StepDefinition[];
  cleanup: StepDefinition[];
  triggers: TriggerDefinition[];
  /** Who hears about the run's end. */
  notify?: NotifySettings;
  /**
   * A second person must agree before the run's first mutating step (the loader puts a
   * `core.approve` gate step there). See engine/approval.types.ts.
   */
  approval?: ApprovalSpec;
  /** What the policy's approval rules match on; see `runbookRisk` for the default. */
  risk?: 'low' | 'medium' | 'high';
  /** How a fleet's targets bind to this runbook's parameters; a runbook without it refuses `targets`. */
  fleet?: FleetSettings;
}

/** Resource types a fleet can find by tag; each was checked against the tagging API (moto answers these per account). */
export const FLEET_RESOURCE_TYPES = ['rds:db', 'rds:cluster', 'ecs:service'] as const;
export type FleetResourceType = (typeof FLEET_RESOURCE_TYPES)[number];

/** A runbook's `fleet:` section: which resources it acts on, and how one binds to its parameters. */
export interface FleetSettings {
  resourceTypes: FleetResourceType[];
  /** Parameter name → value with `${{ target.* }}` expressions (id, arn, account, region, roleArn, cluster, tags). */
  bind: Record<string, unknown>;
}

/** The fields of a runbook's `approval:` and of a `core.approve` step's `with:`. */
export interface ApprovalSpec {
  /** Approval is needed only when this holds: an expression (truthy), or `{ value, in: [...] }`. */
  when?: string | boolean | { value?: unknown; in: unknown[] };
  /** Who may approve: any key with one of these roles, or one of these key names. Default: operator and admin. */
  approvers?: { roles?: Array<'operator' | 'admin'>; keys?: string[] };
  /** Distinct approvers needed (never the requester). Default 1. */
  minApprovals?: number;
  /** How long the request stays open before the run ends rejected (expired). Default 4h. */
  timeout?: string;
  /** Shown to the approver and in the notification. */
  message?: string;
  /**
   * Set at acceptance from the policy's approval rules and the target's facts (never from the
   * request): when non-empty the gate waits whatever `when` says, for at least the largest count.
   */
  requiredBy?: Array<{ rule: string; minApprovals: number; because: string; target: string | null }>;
  /**
   * A fleet's one approval (set by fleet acceptance, never by the request): every target and the
   * hash of its child's plan. Part of what is approved, so a changed list voids the approval, and
   * a child whose plan still hashes the same is covered by it.
   */
  fleet?: { targets: FleetApprovalTarget[] };
}

/** One target as a fleet's approval shows it. */
export interface FleetApprovalTarget {
  index: number;
  arn: string;
  id: string;
  account: string;
  region: string;
  /** sha256 of the child's target plan (`ApprovalsService.targetPlan`). */
  planHash: string;
  /** Whether this target's own child would have asked (a rule or the runbook's `approval.when` held). */
  asks: boolean;
}

export type NotifyOutcome = 'succeeded' | 'failed' | 'aborted' | 'cancelled' | 'rejected';

export interface NotifySettings {
  /** Outcomes that notify; default failed and aborted. */
  on?: NotifyOutcome[];
  /** SNS topic ARN to Publish to. */
  sns?: string;
  /** URL that receives a Slack-compatible JSON POST. */
  webhook?: string;
}

export interface RunbookGuards {
  /** An expression-bearing string; a second run resolving to the same key is refused. */
  concurrency?: string;
  /** CloudWatch alarm names (may hold expressions); any in ALARM aborts the run. */
  stopConditions?: { alarms: string[]; region?: string; roleArn?: string };
  /** Whole run, e.g. "15m". */
  timeout?: string;
}

export interface StepDefinition {
  id: string;
  uses: string;
  name?: string;
  with: Record<string, unknown>;
  /** Expression; the step runs only when it resolves truthy. */
  if?: string;
  timeout?: string;
  retry?: { attempts: number; backoffSeconds?: number };
  /** Generic steps (`aws.call`): whether the call changes state; the loader refuses a mutating API declared false. */
  mutates?: boolean;
  /** Generic steps: output name → JMESPath over the AWS response, visible as `steps.<id>.<name>`. */
  outputs?: Record<string, string>;
  /** What a failure of this step does to the run: end the phase (`fail`, default), carry on, or jump to `step:<id>`. */
  onFailure?: string;
  /** Shorthand for `onFailure: continue`. */
  continueOnFailure?: boolean;
}

export type TriggerDefinition = { manual: ManualTrigger } | { alarm: AlarmTrigger } | { schedule: ScheduleTrigger };

export interface ManualTrigger {
  roles?: Array<'operator' | 'admin'>;
}

/** A CloudWatch alarm state change delivered through SNS. */
export interface AlarmTrigger {
  topicArn?: string;
  /** Regular expression over the alarm name. */
  alarmName?: string;
  state?: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  /** Dimension name → regular expression over its value. */
  dimensions?: Record<string, string>;
  /** Run parameters; may use `${{ alarm.* }}`. */
  parameters?: Record<string, unknown>;
}

/** A cron schedule, run by a BullMQ job scheduler. */
export interface ScheduleTrigger {
  id?: string;
  cron: string;
  timezone?: string;
  /** Duration, default 1h. */
  catchUp?: string;
  parameters?: Record<string, unknown>;
}

/** A definition as loaded, with where it came from (for errors and the API). */
export interface LoadedRunbook {
  definition: RunbookDefinition;
  file: string;
  /** SHA-256 of the file's text: a run records which version it ran. */
  digest: string;
}
