import type { ApiClient } from './api-client.adapter';
import type { CliOutput } from './cli-output';
import { seconds } from './cli-output';
import { FINAL_STATES } from './exit-codes';

/**
 * Says when a run may have changed. Two kinds: the run's event stream (Server-Sent Events at
 * `GET /v1/runs/:id/events`, where the service has it) and plain polling. The follower treats
 * either as a wake-up only and reads the run itself each time, so it depends on no event
 * payload format and prints the same thing whichever source it got.
 */
export interface RunChangeSource {
  /** Resolves when something may have changed, or when `maxWaitMs` has passed. */
  next(maxWaitMs: number): Promise<void>;
  close(): void;
  readonly kind: 'events' | 'polling';
}

export class PollingSource implements RunChangeSource {
  readonly kind = 'polling' as const;
  constructor(private readonly intervalMs: number) {}
  next(maxWaitMs: number): Promise<void> {
    return sleep(Math.min(this.intervalMs, maxWaitMs));
  }
  close(): void {}
}

/**
 * Wakes on every SSE event. A stream that ends or breaks falls back to polling rather than
 * failing the follow: the run goes on whether or not this terminal hears about it.
 */
export class EventStreamSource implements RunChangeSource {
  readonly kind = 'events' as const;
  private pending = false;
  private waiter: (() => void) | undefined;
  private ended = false;

  private constructor(
    private readonly controller: AbortController,
    private readonly fallback: PollingSource,
  ) {}

  /** Undefined when the service has no event stream for runs (404 or not `text/event-stream`). */
  static async open(client: ApiClient, runId: string, fallback: PollingSource): Promise<EventStreamSource | undefined> {
    const controller = new AbortController();
    const res = await client.stream(`/v1/runs/${encodeURIComponent(runId)}/events`, controller.signal).catch(() => undefined);
    if (!res?.body) {
      controller.abort();
      return undefined;
    }
    const source = new EventStreamSource(controller, fallback);
    void source.read(res.body);
    return source;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        // An event ends at a blank line; comments (": keep-alive") are not events.
        let end: number;
        while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          if (block.split(/\r?\n/).some((l) => l.startsWith('data:') || l.startsWith('event:'))) this.wake();
        }
      }
    } catch {
      /* aborted or broken: fall back to polling */
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    this.pending = true;
    this.waiter?.();
  }

  async next(maxWaitMs: number): Promise<void> {
    if (this.ended) return this.fallback.next(maxWaitMs);
    if (this.pending) {
      this.pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      this.waiter = done;
    });
    this.pending = false;
  }

  close(): void {
    this.controller.abort();
  }
}

export interface FollowOptions {
  /** Give up (the run goes on) after this long; undefined = until it ends. */
  timeoutMs?: number;
  pollMs?: number;
  /** While on the event stream, still read the run at least this often (a missed event costs only this). */
  safetyPollMs?: number;
}

export interface FollowResult {
  run: any;
  /** False when the timeout ran out before the run ended. */
  finished: boolean;
  source: 'events' | 'polling';
}

/** Prints each step as it starts and ends until the run reaches a final state or the timeout runs out. */
export async function followRun(client: ApiClient, runId: string, out: CliOutput, opts: FollowOptions = {}): Promise<FollowResult> {
  const poll = new PollingSource(opts.pollMs ?? 1000);
  const source: RunChangeSource = (await EventStreamSource.open(client, runId, poll)) ?? poll;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const printer = new StepPrinter(out);
  try {
    for (;;) {
      const run = await client.get(`/v1/runs/${encodeURIComponent(runId)}`);
      printer.update(run);
      if (FINAL_STATES.includes(run.state)) return { run, finished: true, source: source.kind };
      const left = deadline - Date.now();
      if (left <= 0) return { run, finished: false, source: source.kind };
      await source.next(Math.min(left, source.kind === 'events' ? (opts.safetyPollMs ?? 5000) : Infinity));
    }
  } finally {
    source.close();
  }
}

/**
 * Turns successive reads of a run into "started" and "ended" lines, each printed once. Each line
 * carries the time it happened as the service recorded it (a step's start and end, the run's
 * acceptance, start and end), so following a run that already ended prints when its steps ran;
 * only what has no recorded time (a waiting step's note, a state seen in passing) is stamped when
 * it was seen. Times are UTC, with the date when it is not today's.
 */
export class StepPrinter {
  private readonly started = new Set<string>();
  private readonly ended = new Set<string>();
  private readonly notes = new Map<string, string>();
  private runState: string | undefined;

  constructor(
    private readonly out: CliOutput,
    private readonly now: () => Date = () => new Date(),
  ) {}

  update(run: any): void {
    if (run.state !== this.runState) {
      this.out.line(`${this.stamp(runStateTime(run))} run ${run.id} ${this.out.state(run.state)}`);
      this.runState = run.state;
    }
    const steps: any[] = [...(run.steps ?? [])].sort((a, b) => (a.phase === b.phase ? 0 : a.phase === 'main' ? -1 : 1));
    for (const s of steps) {
      const key = `${s.phase}/${s.id}`;
      const label = `${s.phase === 'cleanup' ? 'cleanup ' : ''}${s.id} (${s.uses})`;
      if (!this.started.has(key)) {
        this.started.add(key);
        this.out.line(`${this.stamp(s.startedAt)} ▶ ${label} started`);
      }
      if (s.state === 'waiting' && s.note && this.notes.get(key) !== s.note) {
        this.notes.set(key, s.note);
        this.out.line(`${this.stamp(undefined)}   ${label} waiting: ${s.note}`);
      }
      if (!this.ended.has(key) && ['succeeded', 'failed', 'skipped', 'planned'].includes(s.state)) {
        this.ended.add(key);
        const mark = s.state === 'succeeded' ? this.out.green('✓') : s.state === 'failed' ? this.out.red('✗') : '•';
        const why = s.state === 'failed' && s.error ? `: ${s.error.code} ${s.error.message}` : s.note ? ` — ${s.note}` : '';
        this.out.line(`${this.stamp(s.endedAt)} ${mark} ${label} ${this.out.state(s.state)} in ${seconds(s.durationMs)}${why}`);
      }
    }
  }

  /** `12:00:03Z`, or `2026-12-01 12:00:03Z` on another day; a missing or unreadable time is now. */
  private stamp(iso: string | null | undefined): string {
    const now = this.now();
    const t = iso && !Number.isNaN(Date.parse(iso)) ? new Date(iso) : now;
    const text = t.toISOString();
    const day = text.slice(0, 10) === now.toISOString().slice(0, 10) ? '' : `${text.slice(0, 10)} `;
    return this.out.dim(`${day}${text.slice(11, 19)}Z`);
  }
}

/** When the run reached the state it is in, where the service recorded it. */
function runStateTime(run: any): string | null | undefined {
  if (FINAL_STATES.includes(run.state)) return run.endedAt;
  if (run.state === 'queued') return run.createdAt;
  if (run.state === 'running' && !(run.steps ?? []).length) return run.startedAt;
  return undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
