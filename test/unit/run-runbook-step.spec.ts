import { EngineError } from '../../src/engine/engine.error';
import type { StepContext } from '../../src/steps/step.contract';
import { RunRunbookStep } from '../../src/steps/runbook/run-runbook.step';

function setup(child: Record<string, unknown> | null) {
  const accept = jest.fn(async () => ({ run: { id: 'child-1' }, created: true }));
  const runs = { get: jest.fn(async () => child) };
  const step = new RunRunbookStep(runs as any);
  const checkpoints: unknown[] = [];
  const ctx = (memory: Record<string, unknown> = {}): StepContext => ({
    runId: 'parent-1',
    runbookId: 'monthly-dr-drill',
    stepId: 'failover-test',
    attempt: 1,
    startedAt: new Date(),
    memory,
    checkpoint: async (m) => void checkpoints.push(m),
    dryRun: false,
    expiresAt: new Date(),
    aws: {
      runId: 'parent-1',
      runbookId: 'monthly-dr-drill',
      stepId: 'failover-test',
      actor: 'schedule:monthly-dr-drill.monthly',
      dryRun: false,
      expiresAt: new Date(),
    },
    log: { log: () => undefined, warn: () => undefined, debug: () => undefined },
    engine: { startRun: accept as any, cancelRun: async () => undefined, approvalGate: async () => ({ kind: 'wait', afterSeconds: 1 }) },
  });
  return { step, accept, checkpoints, ctx };
}

const ended = (state: string, extra: Record<string, unknown> = {}) => ({
  id: 'child-1',
  runbookId: 'failover-test',
  state,
  phase: 'done',
  error: state === 'succeeded' ? null : { code: 'FINDINGS_FAILED', message: 'check(s) failed: switch-time' },
  report: {
    run: { durationSeconds: 12 },
    findings: [{ id: 'switch-time', title: 'Switch', passed: state === 'succeeded', measured: 75, stepId: 'verify' }],
    figures: [{ id: 'switch-seconds', label: 'Switch', value: 75, unit: 's', stepId: 'switch' }],
  },
  ...extra,
});

describe('runbook.run', () => {
  it('starts the child with a dedupe key of parent and step, checkpoints it, and waits without holding a worker', async () => {
    const { step, accept, checkpoints, ctx } = setup({ id: 'child-1', state: 'queued', phase: 'main' });
    const out = await step.run({ runbook: 'failover-test', parameters: { clusterIdentifier: 'c' } }, ctx());
    expect(accept).toHaveBeenCalledWith(
      expect.objectContaining({
        runbookId: 'failover-test',
        parameters: { clusterIdentifier: 'c' },
        dryRun: false,
        dedupeKey: 'child:parent-1:failover-test',
        trigger: {
          kind: 'parent',
          actor: 'schedule:monthly-dr-drill.monthly',
          parentRunId: 'parent-1',
          parentStepId: 'failover-test',
          parentRunbookId: 'monthly-dr-drill',
        },
      }),
    );
    expect(checkpoints).toEqual([{ childRunId: 'child-1' }]);
    expect(out).toMatchObject({ kind: 'wait', afterSeconds: 15, memory: { childRunId: 'child-1' } });
  });

  it('a step resumed before its checkpoint asks again with the same key (acceptance returns the same child)', async () => {
    const { step, accept, ctx } = setup({ id: 'child-1', state: 'running', phase: 'main' });
    await step.run({ runbook: 'failover-test' }, ctx());
    await step.run({ runbook: 'failover-test' }, ctx());
    expect((accept.mock.calls as unknown as Array<[{ dedupeKey: string }]>).map((c) => c[0].dedupeKey)).toEqual([
      'child:parent-1:failover-test',
      'child:parent-1:failover-test',
    ]);
  });

  it('once started, only looks at the child until it has ended (cleanup included)', async () => {
    const { step, accept, ctx } = setup({ id: 'child-1', state: 'failed', phase: 'cleanup' });
    expect(await step.run({ runbook: 'failover-test', pollSeconds: 5 }, ctx({ childRunId: 'child-1' }))).toMatchObject({ kind: 'wait', afterSeconds: 5 });
    expect(accept).not.toHaveBeenCalled();
  });

  it("copies a succeeded child's findings and figures into its output", async () => {
    const { step, ctx } = setup(ended('succeeded'));
    const out = await step.run({ runbook: 'failover-test' }, ctx({ childRunId: 'child-1' }));
    expect(out).toMatchObject({
      kind: 'done',
      output: {
        childRunId: 'child-1',
        state: 'succeeded',
        durationSeconds: 12,
        findings: [
          { id: 'switch-time', passed: true },
          { id: 'failover-test-succeeded', passed: true },
        ],
        figures: [{ id: 'switch-seconds', value: 75, unit: 's' }],
      },
    });
  });

  it('a failed child fails the step, or with continueOnFailure becomes a failed finding', async () => {
    const { step, ctx } = setup(ended('failed'));
    await expect(step.run({ runbook: 'failover-test' }, ctx({ childRunId: 'child-1' }))).rejects.toMatchObject({ code: 'CHILD_RUN_FAILED', retryable: false });
    await expect(step.run({ runbook: 'failover-test' }, ctx({ childRunId: 'child-1' }))).rejects.toBeInstanceOf(EngineError);
    const out = await step.run({ runbook: 'failover-test', continueOnFailure: true }, ctx({ childRunId: 'child-1' }));
    expect(out).toMatchObject({
      kind: 'done',
      output: {
        state: 'failed',
        findings: [
          { id: 'switch-time', passed: false },
          { id: 'failover-test-succeeded', passed: false, measured: 'failed', target: 'succeeded', detail: 'FINDINGS_FAILED: check(s) failed: switch-time' },
        ],
      },
    });
  });
});
