import { CliError } from './cli.error';
import type { Profile } from './cli.config';

export interface ApiResponse<T> {
  status: number;
  body: T;
  text: string;
  contentType: string;
}

/**
 * The runbookd HTTP API as the CLI uses it. Every failure becomes a CliError whose code decides
 * the exit status: refused key → NOT_AUTHORISED (77), nothing answering → UNREACHABLE (69), a
 * request the API calls bad (400, 422) → USAGE (64), anything else → FAILED (1). The API's own
 * message (which names the bad field) is passed on as it is.
 */
export class ApiClient {
  constructor(
    private readonly profile: Profile,
    private readonly timeoutMs = 30_000,
  ) {}

  get baseUrl(): string {
    return this.profile.url;
  }

  async get<T = any>(path: string): Promise<T> {
    return (await this.send<T>('GET', path)).body;
  }

  async post<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    return (await this.send<T>('POST', path, body, headers)).body;
  }

  async send<T = any>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiResponse<T>> {
    // X-Runbookd-Client: runs this client starts are recorded with trigger kind `cli` (who started them is the key's owner).
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.profile.apiKey}`,
      accept: 'application/json',
      [CLIENT_HEADER]: 'cli',
      ...extraHeaders,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.profile.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw unreachable(this.profile.url, err);
    }
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* Markdown or HTML reports */
    }
    if (res.status >= 400) throw apiError(res.status, parsed, text);
    return { status: res.status, body: parsed as T, text, contentType: res.headers.get('content-type') ?? '' };
  }

  /** Opens a streaming GET (Server-Sent Events); the caller reads the body. 404 → undefined (no such endpoint here). */
  async stream(path: string, signal: AbortSignal): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await fetch(`${this.profile.url}${path}`, { headers: { authorization: `Bearer ${this.profile.apiKey}`, accept: 'text/event-stream' }, signal });
    } catch (err) {
      if (signal.aborted) return undefined;
      throw unreachable(this.profile.url, err);
    }
    const type = res.headers.get('content-type') ?? '';
    if (res.status === 404 || (res.ok && !type.includes('text/event-stream'))) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    if (res.status >= 400) throw apiError(res.status, await res.json().catch(() => undefined), '');
    return res;
  }
}

const CLIENT_HEADER = 'x-runbookd-client';

function unreachable(url: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new CliError('UNREACHABLE', `cannot reach runbookd at ${url}: ${why}`, { url });
}

function apiError(status: number, body: any, text: string): CliError {
  const e = body?.error as { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
  const message = e?.message ?? (text.slice(0, 300) || `HTTP ${status}`);
  const details = { status, apiCode: e?.code ?? null, ...(e?.details ? { apiDetails: e.details } : {}) };
  if (status === 401 || status === 403) return new CliError('NOT_AUTHORISED', `${e?.code ?? status}: ${message}`, details);
  if (status === 400 || status === 422) return new CliError('USAGE', `${e?.code ?? status}: ${message}`, details);
  return new CliError('FAILED', `${e?.code ?? status}: ${message}`, details);
}
