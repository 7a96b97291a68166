import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { isTerminal } from '../model/run.types';
import { RunsService, RunView, StepView } from './runs.service';

/**
 * What `GET /v1/runs/:id/events` sends (README, "Live run events"):
 * - `run`: the run without its steps, first at once and then whenever any of it changes;
 * - `step`: one step (as in `GET /v1/runs/:id`), first every recorded step, then each that changes;
 * - `end`: the run ended (`{ id, state }`); the stream closes after it;
 * - `heartbeat`: nothing changed for a while (a comment line on the wire keeps proxies from closing).
 */
export type RunEvent =
  | { type: 'run'; data: Omit<RunView, 'steps'> }
  | { type: 'step'; data: StepView }
  | { type: 'end'; data: { id: string; state: string } }
  | { type: 'heartbeat' };

const HEARTBEAT_MS = 15_000;

/**
 * Live changes of one run, read by polling PostgreSQL (the source of truth) at
 * RUNBOOKD_EVENTS_POLL_MS per open stream: the executor stays untouched, and any API replica can
 * serve any run's stream whichever worker executes it. Values are the redacted views of RunsService.
 */
@Injectable()
export class RunEventsService implements OnModuleDestroy {
  private readonly open = new Set<AbortController>();

  constructor(
    private readonly runs: RunsService,
    private readonly config: AppConfig,
  ) {}

  /** Throws EngineError RUN_NOT_FOUND at once (before anything is streamed) for an unknown run. */
  async *stream(runId: string, signal: AbortSignal): AsyncGenerator<RunEvent> {
    // Shutdown ends every stream, so closing the HTTP server does not wait on open connections.
    const own = new AbortController();
    const onAbort = () => own.abort();
    signal.addEventListener('abort', onAbort);
    this.open.add(own);
    try {
      let lastRun = '';
      const lastSteps = new Map<string, string>();
      let quietSince = Date.now();
      while (!own.signal.aborted) {
        const view = await this.runs.view(runId);
        const { steps, ...header } = view;
        let changed = false;
        const runJson = JSON.stringify(header);
        if (runJson !== lastRun) {
          lastRun = runJson;
          changed = true;
          yield { type: 'run', data: header };
        }
        for (const step of steps ?? []) {
          const key = `${step.phase}/${step.id}`;
          const json = JSON.stringify(step);
          if (lastSteps.get(key) === json) continue;
          lastSteps.set(key, json);
          changed = true;
          yield { type: 'step', data: step };
        }
        if (isTerminal(view.state)) {
          yield { type: 'end', data: { id: view.id, state: view.state } };
          return;
        }
        if (changed) quietSince = Date.now();
        else if (Date.now() - quietSince >= HEARTBEAT_MS) {
          quietSince = Date.now();
          yield { type: 'heartbeat' };
        }
        await sleep(this.config.runs.eventsPollMs, own.signal);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.open.delete(own);
    }
  }

  /** Streams open now (each polls the database). */
  get openStreams(): number {
    return this.open.size;
  }

  onModuleDestroy(): void {
    for (const c of this.open) c.abort();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** One event in the text/event-stream wire format. */
export function formatSse(event: RunEvent, seq: number): string {
  if (event.type === 'heartbeat') return ': heartbeat\n\n';
  return `id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}
