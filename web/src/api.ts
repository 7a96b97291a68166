/** The HTTP API as the console uses it: same origin, the session cookie, and the CSRF header on writes. */

export type Role = 'viewer' | 'operator' | 'admin';
export interface Session {
  name: string;
  role: Role;
  csrfToken: string | null;
  expiresAt: string | null;
}

export interface FieldError {
  field: string;
  message: string;
}

/** An API error as the service sends it: `{ error: { code, message, details } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** Per-field errors (bad parameters), keyed by parameter name. */
  get fieldErrors(): FieldError[] {
    const errors = this.details.errors;
    return Array.isArray(errors) ? (errors as FieldError[]).filter((e) => typeof e?.field === 'string') : [];
  }
}

let csrfToken: string | null = null;
let onSignedOut: () => void = () => undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the API answers 401: the session ended (expired, signed out elsewhere, key removed). */
export function onUnauthenticated(fn: () => void): void {
  onSignedOut = fn;
}

export async function api<T = any>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the service did not answer (${(err as Error).message})`);
  }
  const text = await res.text();
  let body: any = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) {
    const e = body?.error;
    const error = new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.details ?? {});
    if (res.status === 401 && path !== '/v1/session') onSignedOut();
    throw error;
  }
  return body as T;
}

export interface StepView {
  id: string;
  uses: string;
  phase: 'main' | 'cleanup';
  mutates: boolean;
  state: string;
  attempts: number;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  input: unknown;
  output: any;
  error: { code: string; message: string } | null;
  note: string | null;
}

export interface RunView {
  id: string;
  runbookId: string;
  state: string;
  phase: string;
  dryRun: boolean;
  reason: string | null;
  trigger: { kind: string; actor: string; [k: string]: unknown };
  actor: string;
  parameters: Record<string, unknown>;
  error: { code: string; message: string; details?: unknown } | null;
  cancelRequestedAt: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  parent?: { runId: string; stepId: string | null } | null;
  children?: Array<{ runId: string; runbookId: string; stepId: string | null; state: string }>;
  steps?: StepView[];
  deduplicated?: boolean;
}

export interface StepDefinition {
  id: string;
  name?: string;
  uses: string;
  with?: Record<string, unknown>;
  timeout?: string;
  retry?: unknown;
}

export interface RunbookDetail {
  id: string;
  title: string;
  description: string | null;
  parameters?: JsonSchema;
  guards?: Record<string, unknown>;
  preflight?: unknown[];
  steps: StepDefinition[];
  cleanup?: StepDefinition[];
  triggers?: Array<Record<string, any>>;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  items?: JsonSchema;
  writeOnly?: boolean;
  minimum?: number;
  maximum?: number;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  [k: string]: unknown;
}

// `rejected`: a run whose approval was refused or expired has ended too.
export const TERMINAL = new Set(['succeeded', 'failed', 'aborted', 'cancelled', 'rejected']);

export function canOperate(session: Session | null): boolean {
  return session?.role === 'operator' || session?.role === 'admin';
}

export interface PlannedCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
  region?: string;
}

/** `GET /v1/runs/:id/approval` and the items of `GET /v1/approvals`. */
export interface ApprovalView {
  id: number;
  runId: string;
  runbookId: string | null;
  gate: string;
  state: 'pending' | 'approved' | 'rejected' | 'expired' | 'void';
  requestedBy: string;
  approvers: { roles: string[]; keys: string[] };
  minApprovals: number;
  message: string | null;
  plan: { parameters?: Record<string, unknown>; steps?: Array<{ stepId: string; uses: string; calls: PlannedCall[] | null; note?: string }> };
  planHash: string;
  approvals: string[];
  decisions: Array<{ actor: string; role: string; decision: 'approve' | 'reject'; comment: string | null; at: string }>;
  createdAt: string;
  expiresAt: string;
  ageSeconds: number;
  decidedAt: string | null;
  reason: string | null;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** The service's rule, mirrored to decide which controls to show (the API still decides). */
export function isApprover(session: Session, a: ApprovalView): boolean {
  if (!canOperate(session)) return false;
  return a.approvers.keys.includes(session.name) || a.approvers.roles.some((r) => r in RANK && RANK[session.role] >= RANK[r as Role]);
}
