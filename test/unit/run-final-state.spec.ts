import { finalState } from '../../src/engine/run-finisher.service';
import type { RunRecord, StepResultRecord } from '../../src/model/run.types';

const run = (outcome: RunRecord['outcome'], error: RunRecord['error'] = null) => ({ outcome, error }) as RunRecord;
const step = (stepId: string, phase: 'main' | 'cleanup', state: StepResultRecord['state'], extra: Partial<StepResultRecord> = {}) =>
  ({ stepId, phase, state, output: null, error: null, ...extra }) as StepResultRecord;

describe('finalState: how a run ends', () => {
  it('never succeeds past a failed main step, whatever the recorded outcome says', () => {
    const error = { code: 'AWS_FAILED', message: 'no' };
    const r = finalState(run('succeeded'), [step('a', 'main', 'succeeded'), step('b', 'main', 'failed', { error }), step('c', 'main', 'succeeded')]);
    expect(r).toMatchObject({ state: 'failed', error });
  });

  it('fails a succeeded main phase on a failed cleanup or a failed finding, and keeps the main error otherwise', () => {
    expect(finalState(run('succeeded'), [step('a', 'main', 'succeeded'), step('z', 'cleanup', 'failed')])).toMatchObject({
      state: 'failed',
      error: { code: 'CLEANUP_FAILED' },
      cleanupFailed: ['z'],
    });
    expect(
      finalState(run('succeeded'), [step('a', 'main', 'succeeded', { output: { findings: [{ id: 'rpo', title: 'RPO', passed: false }] } })]),
    ).toMatchObject({ state: 'failed', error: { code: 'FINDINGS_FAILED' } });
    const cancelled = finalState(run('cancelled', { code: 'CANCELLED', message: 'by otto' }), [step('z', 'cleanup', 'failed')]);
    expect(cancelled).toMatchObject({ state: 'cancelled', error: { code: 'CANCELLED', details: { cleanupFailed: ['z'] } } });
  });

  it('a forced error (the dead letter) ends the run failed with it', () => {
    expect(finalState(run('succeeded'), [], { code: 'RUN_DEAD_LETTERED', message: 'x' })).toMatchObject({
      state: 'failed',
      error: { code: 'RUN_DEAD_LETTERED' },
    });
  });

  it('a clean run succeeds', () => {
    expect(finalState(run('succeeded'), [step('a', 'main', 'succeeded'), step('z', 'cleanup', 'succeeded')])).toEqual({
      state: 'succeeded',
      error: null,
      cleanupFailed: [],
    });
  });
});
