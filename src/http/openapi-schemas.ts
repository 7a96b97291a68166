import { RESOURCE_NAME_TYPES } from '../aws/resource-names.service';
import { RUN_STATES, TRIGGER_KINDS } from '../model/run.types';

/**
 * Response bodies of the HTTP API as JSON Schema, published under `components.schemas` of the
 * OpenAPI document (/docs/openapi.json). The console's TypeScript types are generated from that
 * document (web/src/api/openapi.gen.ts, `npm run api-types`), and the console's browser test
 * validates real answers against these schemas, so a field the service stops sending (or starts
 * sending under another name) fails a test rather than a page.
 */
type Schema = Record<string, unknown>;

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const anyObject = { type: 'object', additionalProperties: true } as const;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
// Extra properties stay allowed (JSON Schema's default) without being typed: the console reads only what is named.
const obj = (required: string[], properties: Record<string, unknown>): Schema => ({ type: 'object', required, properties });
const list = (item: string, extra: Record<string, unknown> = {}) =>
  obj(['items', ...Object.keys(extra)], { items: { type: 'array', items: ref(item) }, ...extra });

export const API_SCHEMAS: Record<string, Schema> = {
  RunState: { type: 'string', enum: [...RUN_STATES] },
  TriggerKind: { type: 'string', enum: [...TRIGGER_KINDS] },
  StepState: { type: 'string', enum: ['running', 'waiting', 'succeeded', 'failed', 'skipped', 'planned'] },
  Role: { type: 'string', enum: ['viewer', 'operator', 'admin'] },
  ApiErrorBody: obj(['error'], { error: obj(['code', 'message'], { code: str, message: str, details: anyObject }) }),
  CodedErrorView: obj(['code', 'message'], { code: str, message: str, details: anyObject }),
  Session: obj(['name', 'role', 'groups', 'may', 'csrfToken', 'expiresAt'], { name: str, role: ref('Role'), groups: { type: 'array', items: str, description: 'The policy groups the signed-in key or SSO user is in' }, may: { type: 'array', items: { type: 'string', enum: ['view', 'run', 'approve', 'cancel', 'admin'] }, description: 'The actions the policy gives them on some runbook somewhere (each run, approval and cancel is still decided on its runbook and targets)' }, csrfToken: nullableStr, expiresAt: nullableDateTime }),
  StepView: obj(['id', 'uses', 'phase', 'mutates', 'state', 'attempts', 'startedAt', 'endedAt', 'durationMs', 'input', 'output', 'error', 'note'], {
    id: str,
    uses: str,
    phase: { type: 'string', enum: ['main', 'cleanup'] },
    mutates: { type: 'boolean' },
    state: ref('StepState'),
    attempts: { type: 'integer' },
    startedAt: dateTime,
    endedAt: nullableDateTime,
    durationMs: { type: ['integer', 'null'] },
    input: { type: ['object', 'null'], additionalProperties: true },
    output: { type: ['object', 'null'], additionalProperties: true },
    error: { oneOf: [ref('CodedErrorView'), { type: 'null' }] },
    note: nullableStr,
  }),
  RunTrigger: { ...obj(['kind', 'actor'], { kind: ref('TriggerKind'), actor: str }), additionalProperties: true },
  RunView: obj(
    [
      'id',
      'runbookId',
      'state',
      'phase',
      'dryRun',
      'reason',
      'trigger',
      'actor',
      'parameters',
      'error',
      'cancelRequestedAt',
      'createdAt',
      'startedAt',
      'endedAt',
    ],
    {
      id: str,
      runbookId: str,
      runbookDigest: str,
      state: ref('RunState'),
      phase: { type: 'string', enum: ['main', 'cleanup', 'done'] },
      dryRun: { type: 'boolean' },
      reason: nullableStr,
      trigger: ref('RunTrigger'),
      actor: str,
      parameters: anyObject,
      concurrencyKey: nullableStr,
      error: { oneOf: [ref('CodedErrorView'), { type: 'null' }] },
      cancelRequestedAt: nullableDateTime,
      createdAt: dateTime,
      startedAt: nullableDateTime,
      endedAt: nullableDateTime,
      links: anyObject,
      parent: { oneOf: [obj(['runId', 'stepId'], { runId: str, stepId: nullableStr, link: str }), { type: 'null' }] },
      children: {
        type: 'array',
        items: obj(['runId', 'runbookId', 'stepId', 'state'], { runId: str, runbookId: str, stepId: nullableStr, state: ref('RunState'), link: str }),
      },
      steps: { type: 'array', items: ref('StepView') },
      deduplicated: { type: 'boolean' },
    },
  ),
  RunList: list('RunView', { nextCursor: nullableStr }),
  RunbookSummary: obj(['id', 'title', 'description', 'digest'], { id: str, title: str, description: nullableStr, digest: str, links: anyObject }),
  RunbookList: list('RunbookSummary'),
  StepDefinition: obj(['id', 'uses'], { id: str, name: str, uses: str, if: str, with: anyObject, timeout: str, retry: anyObject }),
  RunbookTrigger: anyObject,
  RunbookDetail: {
    allOf: [
      ref('RunbookSummary'),
      obj(['steps'], {
        parameters: anyObject,
        guards: anyObject,
        preflight: { type: 'array', items: anyObject },
        steps: { type: 'array', items: ref('StepDefinition') },
        cleanup: { type: 'array', items: ref('StepDefinition') },
        triggers: { type: 'array', items: ref('RunbookTrigger') },
      }),
    ],
  },
  PlannedCall: obj(['service', 'operation', 'input'], { service: str, operation: str, input: anyObject, region: str }),
  ApprovalPlanStep: obj(['stepId', 'uses', 'calls'], {
    stepId: str,
    uses: str,
    calls: { type: ['array', 'null'], items: ref('PlannedCall') },
    note: str,
    skipped: { type: 'boolean', description: "the step's condition is already false: it will not run" },
  }),
  ApprovalPlan: obj([], { parameters: anyObject, steps: { type: 'array', items: ref('ApprovalPlanStep') } }),
  ApprovalDecision: obj(['actor', 'role', 'decision', 'comment', 'at'], {
    actor: str,
    role: str,
    decision: { type: 'string', enum: ['approve', 'reject'] },
    comment: nullableStr,
    at: dateTime,
  }),
  ApprovalView: obj(
    [
      'id',
      'runId',
      'runbookId',
      'gate',
      'state',
      'requestedBy',
      'approvers',
      'minApprovals',
      'message',
      'plan',
      'planHash',
      'approvals',
      'decisions',
      'createdAt',
      'expiresAt',
      'ageSeconds',
      'decidedAt',
      'reason',
    ],
    {
      id: { type: 'integer' },
      runId: str,
      runbookId: nullableStr,
      gate: str,
      state: { type: 'string', enum: ['pending', 'approved', 'rejected', 'expired', 'void'] },
      requestedBy: str,
      approvers: obj(['roles', 'keys'], { roles: { type: 'array', items: str }, keys: { type: 'array', items: str } }),
      minApprovals: { type: 'integer' },
      message: nullableStr,
      plan: ref('ApprovalPlan'),
      planHash: str,
      approvals: { type: 'array', items: str },
      decisions: { type: 'array', items: ref('ApprovalDecision') },
      createdAt: dateTime,
      expiresAt: dateTime,
      ageSeconds: { type: 'number' },
      decidedAt: nullableDateTime,
      reason: nullableStr,
      commands: anyObject,
      links: anyObject,
    },
  ),
  ApprovalList: list('ApprovalView'),
  AuditRecord: obj(['seq', 'position', 'at', 'kind', 'runId', 'actor', 'data', 'prevHash', 'hash'], {
    seq: { type: 'integer' },
    position: { type: ['integer', 'null'] },
    at: dateTime,
    kind: str,
    runId: nullableStr,
    actor: str,
    data: anyObject,
    prevHash: nullableStr,
    hash: nullableStr,
  }),
  AuditList: list('AuditRecord', {
    nextAfterSeq: { type: ['integer', 'null'], description: 'oldest-first paging: pass as afterSeq for the next page' },
    nextBeforeSeq: { type: ['integer', 'null'], description: 'newest-first paging (order=desc): pass as beforeSeq for the next page' },
  }),
  AuditVerifyResult: obj(['ok', 'records', 'headHash', 'anchors'], {
    ok: { type: 'boolean' },
    records: { type: 'integer' },
    headHash: nullableStr,
    firstBadRecord: obj(['seq', 'position', 'reason'], { seq: { type: ['integer', 'null'] }, position: { type: ['integer', 'null'] }, reason: str }),
    missingTail: anyObject,
    anchors: anyObject,
    authentication: { type: 'object', description: 'record MACs: rows quarantined by the sealer, sealed rows whose MAC fails, records from before authentication' },
  }),
  ScheduleTick: obj(['tickAt', 'decision', 'reason', 'runId'], {
    tickAt: dateTime,
    decision: { type: 'string', enum: ['run', 'skipped', 'refused'] },
    reason: nullableStr,
    runId: nullableStr,
  }),
  ScheduleView: obj(
    [
      'id',
      'runbookId',
      'scheduleId',
      'cron',
      'timezone',
      'parameters',
      'paused',
      'pausedAt',
      'pausedBy',
      'pauseReason',
      'nextFireAt',
      'nextFires',
      'lastTickAt',
      'recentTicks',
    ],
    {
      id: str,
      runbookId: str,
      scheduleId: str,
      cron: str,
      timezone: str,
      catchUpSeconds: { type: 'integer' },
      parameters: anyObject,
      paused: { type: 'boolean' },
      pausedAt: nullableDateTime,
      pausedBy: nullableStr,
      pauseReason: nullableStr,
      nextFireAt: nullableDateTime,
      nextFires: { type: 'array', items: dateTime, description: 'the next few fire times (empty while paused)' },
      lastTickAt: nullableDateTime,
      recentTicks: { type: 'array', items: ref('ScheduleTick') },
    },
  ),
  ScheduleList: list('ScheduleView'),
  StopSwitch: obj(['stopped', 'stoppedAt', 'stoppedBy', 'reason', 'resumedAt', 'resumedBy'], {
    stopped: { type: 'boolean', description: 'true while stop-all holds: no run starts, running runs stop at their next safe point' },
    stoppedAt: nullableDateTime,
    stoppedBy: nullableStr,
    reason: nullableStr,
    resumedAt: nullableDateTime,
    resumedBy: nullableStr,
    runsStopping: { type: 'array', items: str, description: 'stop-all only: the runs asked to stop' },
  }),
  ReportFigure: obj(['id', 'label', 'value', 'stepId'], { id: str, label: str, value: {}, unit: str, stepId: str }),
  ReportFinding: obj(['id', 'title', 'passed', 'stepId'], {
    id: str,
    title: str,
    passed: { type: 'boolean' },
    measured: {},
    target: {},
    unit: str,
    detail: str,
    stepId: str,
  }),
  RunReport: obj(['figures', 'findings'], { figures: { type: 'array', items: ref('ReportFigure') }, findings: { type: 'array', items: ref('ReportFinding') } }),
  ResourceNames: obj(['type', 'region', 'names', 'fetchedAt'], {
    type: { type: 'string', enum: [...RESOURCE_NAME_TYPES] },
    region: str,
    names: { type: 'array', items: str },
    fetchedAt: dateTime,
  }),
};

/** `@ApiOkResponse({ schema: apiRef('RunView') })`: a response body named in API_SCHEMAS. */
export function apiRef(name: keyof typeof API_SCHEMAS): { $ref: string } {
  if (!(name in API_SCHEMAS)) throw new Error(`no API schema ${name}`);
  return ref(name);
}
