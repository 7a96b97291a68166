import type { operations, paths } from './openapi.gen';
import type {
  ApprovalView,
  AuditList,
  AuditVerifyResult,
  FieldError,
  ResourceNames,
  ResiliencePosture,
  RunbookDetail,
  RunbookSummary,
  RunList,
  RunReport,
  RunView,
  ScheduleView,
  Session,
  StopSwitch,
} from './types';

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

type QueryOf<K extends keyof operations> = operations[K]['parameters'] extends { query?: infer Q } ? NonNullable<Q> : never;
type Path = keyof paths;

/** A path of the API with its `{param}` parts filled in (encoded): the only place URLs are built. */
function url<P extends Path>(path: P, params: Record<string, string> = {}, query: Record<string, string | undefined> = {}): string {
  const filled = (path as string).replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(params[k] ?? ''));
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const qs = q.toString();
  return qs ? `${filled}?${qs}` : filled;
}

export type ConnectionState = 'online' | 'offline';

/**
 * The HTTP API as the console uses it: same origin, the session cookie, and the CSRF token on
 * writes. One instance per signed-in page (App holds it); the token lives on it, set from the
 * session the API answers with.
 */
export class ApiClient {
  private csrfToken: string | null = null;
  /** Called when the API answers 401 to anything but the session itself: the session ended. */
  onUnauthenticated: () => void = () => undefined;
  /** Called when the service stops (or starts again) answering. */
  onConnection: (state: ConnectionState) => void = () => undefined;

  useSession(s: Session | null): void {
    this.csrfToken = s?.csrfToken ?? null;
  }

  private async request<T>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), credentials: 'same-origin' });
    } catch (err) {
      this.onConnection('offline');
      throw new ApiError(0, 'NETWORK', `the service did not answer (${(err as Error).message})`);
    }
    this.onConnection('online');
    const text = await res.text();
    let body: any;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    if (!res.ok) {
      const e = body?.error;
      const error = new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.details ?? {});
      if (res.status === 401 && !path.startsWith('/v1/session')) this.onUnauthenticated();
      throw error;
    }
    return body as T;
  }

  // Session
  currentSession = () => this.request<Session>('GET', url('/v1/session'));
  signIn = (apiKey: string) => this.request<Session>('POST', url('/v1/session'), { body: { apiKey } });
  signOut = () => this.request<void>('DELETE', url('/v1/session'));

  // Runbooks
  listRunbooks = () => this.request<{ items: RunbookSummary[] }>('GET', url('/v1/runbooks'));
  getRunbook = (id: string) => this.request<RunbookDetail>('GET', url('/v1/runbooks/{id}', { id }));
  startRun = (id: string, body: { parameters: Record<string, unknown>; dryRun: boolean; reason?: string }, idempotencyKey?: string) =>
    this.request<RunView>('POST', url('/v1/runbooks/{id}/runs', { id }), { body, headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {} });

  // Runs
  listRuns = (q: QueryOf<'RunsController_list'>) => this.request<RunList>('GET', url('/v1/runs', {}, q));
  getRun = (id: string) => this.request<RunView>('GET', url('/v1/runs/{id}', { id }));
  cancelRun = (id: string) => this.request<RunView>('POST', url('/v1/runs/{id}/cancel', { id }));
  getReport = (id: string) => this.request<RunReport>('GET', url('/v1/runs/{id}/report', { id }));
  /** Links the browser follows itself (downloads, the report frame, the event stream). */
  reportUrl = (id: string, format: 'json' | 'md' | 'html') => url('/v1/runs/{id}/report', { id }, { format });
  runEventsUrl = (id: string) => url('/v1/runs/{id}/events', { id });

  // Approvals
  listApprovals = (q: QueryOf<'ApprovalsController_list'>) => this.request<{ items: ApprovalView[] }>('GET', url('/v1/approvals', {}, q));
  getApproval = (runId: string) => this.request<ApprovalView>('GET', url('/v1/runs/{id}/approval', { id: runId }));
  approve = (runId: string, body: { planHash: string; comment?: string }) =>
    this.request<ApprovalView>('POST', url('/v1/runs/{id}/approve', { id: runId }), { body });
  reject = (runId: string, body: { planHash: string; comment?: string }) =>
    this.request<ApprovalView>('POST', url('/v1/runs/{id}/reject', { id: runId }), { body });

  // Audit
  listAudit = (q: QueryOf<'AuditController_list'>) => this.request<AuditList>('GET', url('/v1/audit', {}, q));
  verifyAudit = () => this.request<AuditVerifyResult>('GET', url('/v1/audit/verify'));

  // Schedules
  listSchedules = () => this.request<{ items: ScheduleView[] }>('GET', url('/v1/schedules'));
  pauseSchedule = (id: string, reason: string) => this.request<ScheduleView>('POST', url('/v1/schedules/{id}/pause', { id }), { body: { reason } });
  resumeSchedule = (id: string) => this.request<ScheduleView>('POST', url('/v1/schedules/{id}/resume', { id }));

  // The stop button
  stopState = () => this.request<StopSwitch>('GET', url('/v1/stop-all'));
  stopAll = (reason: string) => this.request<StopSwitch>('POST', url('/v1/stop-all'), { body: { reason } });
  resumeAll = () => this.request<StopSwitch>('POST', url('/v1/resume-all'));

  // Resources (the start form's pickers)
  resourceNames = (type: ResourceNames['type'], region?: string) => this.request<ResourceNames>('GET', url('/v1/resources/names', {}, { type, region }));

  // Resilience posture
  resilience = (q: QueryOf<'ResilienceController_get'>) => this.request<ResiliencePosture>('GET', url('/v1/resilience', {}, q));
}
