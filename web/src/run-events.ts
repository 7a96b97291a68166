import { useEffect, useState } from 'react';
import { useApi } from './api/api-context';
import { type RunView, type StepView, TERMINAL_STATES } from './api/types';

/**
 * A run kept up to date: one GET, then the run's Server-Sent Events stream
 * (`/v1/runs/:id/events`: `run`, `step`, `end`) merged in, until the run ends.
 */
export function useLiveRun(runId: string | undefined): { run: RunView | undefined; error: unknown; live: boolean; reload: () => void } {
  const [run, setRun] = useState<RunView | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [live, setLive] = useState(false);
  const [tick, setTick] = useState(0);
  const api = useApi();

  useEffect(() => {
    if (!runId) return;
    let closed = false;
    let source: EventSource | undefined;
    setRun(undefined);
    setError(undefined);
    api.getRun(runId).then(
      (initial) => {
        if (closed) return;
        setRun(initial);
        if (TERMINAL_STATES.has(initial.state)) return;
        source = new EventSource(api.runEventsUrl(runId));
        setLive(true);
        source.addEventListener('run', (e) => {
          const header = JSON.parse(e.data) as RunView;
          setRun((prev) => ({ ...header, steps: prev?.steps ?? [] }));
        });
        source.addEventListener('step', (e) => {
          const step = JSON.parse(e.data) as StepView;
          setRun((prev) => (prev ? { ...prev, steps: upsert(prev.steps ?? [], step) } : prev));
        });
        source.addEventListener('end', () => {
          source?.close();
          setLive(false);
        });
      },
      (e) => !closed && setError(e),
    );
    return () => {
      closed = true;
      source?.close();
      setLive(false);
    };
  }, [runId, tick]);

  return { run, error, live, reload: () => setTick((t) => t + 1) };
}

function upsert(steps: StepView[], step: StepView): StepView[] {
  const i = steps.findIndex((s) => s.id === step.id && s.phase === step.phase);
  if (i === -1) return [...steps, step];
  const copy = steps.slice();
  copy[i] = step;
  return copy;
}
