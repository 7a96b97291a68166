import type { components } from './openapi.gen';

/** The API's bodies, as generated from its OpenAPI document (openapi.gen.ts). */
type S = components['schemas'];
export type Role = S['Role'];
export type Session = S['Session'];
export type RunState = S['RunState'];
export type TriggerKind = S['TriggerKind'];
export type StepState = S['StepState'];
export type RunView = S['RunView'];
export type StepView = S['StepView'];
export type RunList = S['RunList'];
export type RunbookSummary = S['RunbookSummary'];
export type RunbookDetail = S['RunbookDetail'];
export type StepDefinition = S['StepDefinition'];
export type PlannedCall = S['PlannedCall'];
export type ApprovalView = S['ApprovalView'];
export type ApprovalPlanStep = S['ApprovalPlanStep'];
export type AuditRecord = S['AuditRecord'];
export type AuditList = S['AuditList'];
export type AuditVerifyResult = S['AuditVerifyResult'];
export type ScheduleView = S['ScheduleView'];
export type StopSwitch = S['StopSwitch'];
export type RunReport = S['RunReport'];
export type ResourceNames = S['ResourceNames'];
export type ResiliencePosture = S['ResiliencePosture'];
export type ResilienceResource = S['ResilienceResource'];
export type ResilienceObjective = S['ResilienceObjective'];
export type CodedErrorView = S['CodedErrorView'];

/**
 * Every run state, in the order the console lists them. `satisfies` and the check below keep it
 * equal to the API's own list: a state added there fails the console's typecheck until it is here.
 */
export const RUN_STATES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'aborted', 'cancelled', 'rejected'] as const satisfies readonly RunState[];
export const TRIGGER_KINDS = ['rest', 'cli', 'alarm', 'schedule', 'parent'] as const satisfies readonly TriggerKind[];
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : { missing: Exclude<All, Listed> };
const everyState: Missing<RunState, (typeof RUN_STATES)[number]> = true;
const everyTrigger: Missing<TriggerKind, (typeof TRIGGER_KINDS)[number]> = true;
void everyState;
void everyTrigger;

/** States a run does not leave (`rejected`: its approval was refused or expired). */
export const TERMINAL_STATES: ReadonlySet<string> = new Set<RunState>(['succeeded', 'failed', 'aborted', 'cancelled', 'rejected']);

export interface FieldError {
  field: string;
  message: string;
}

/** A runbook's parameters: a JSON Schema (the API sends it as the runbook has it). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  items?: JsonSchema;
  writeOnly?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  [k: string]: unknown;
}

export function parametersOf(runbook: RunbookDetail | undefined): JsonSchema | undefined {
  return runbook?.parameters;
}

/** Whether the policy gives the signed-in person `action` anywhere (the API decides per runbook and target). */
export function may(session: Session | null, action: 'run' | 'approve' | 'cancel' | 'admin'): boolean {
  return session?.may.includes(action) ?? false;
}

export function canOperate(session: Session | null): boolean {
  return may(session, 'run');
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** The service's rule, mirrored to decide which controls to show (the API still decides). */
export function isApprover(session: Session, a: ApprovalView): boolean {
  if (!may(session, 'approve')) return false;
  return (
    a.approvers.keys.includes(session.name) || a.approvers.roles.some((r) => session.groups.includes(r) || (r in RANK && RANK[session.role] >= RANK[r as Role]))
  );
}
