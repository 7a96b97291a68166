import { AwsStepError } from '../../src/aws/aws.error';
import type { GenericAwsAdapter } from '../../src/aws/generic.adapter';
import type { AppConfig } from '../../src/config/app.config';
import type { Clock } from '../../src/common/clock';
import type { StepContext } from '../../src/steps/step.contract';
import { AwsCallStep } from '../../src/steps/aws/call.step';
import { derivedToken } from '../../src/steps/aws/generic-call';

/**
 * aws.call's resume rules at the SDK boundary (moto does not honour ECS client tokens): the
 * adapter is replaced by a recorder of what would be sent.
 */
type Sent = { service: string; api: string; input: Record<string, unknown>; mutates: boolean };

function harness(answers: Record<string, unknown> = {}) {
  const sent: Sent[] = [];
  const adapter = {
    call: async (_ctx: unknown, _target: unknown, service: string, api: string, input: Record<string, unknown>, mutates: boolean) => {
      sent.push({ service, api, input, mutates });
      const a = answers[api];
      if (a instanceof Error) throw a;
      return a ?? {};
    },
    plan: (target: unknown, service: string, api: string, input: Record<string, unknown>) => ({ service, operation: api, input, region: target }),
  } as unknown as GenericAwsAdapter;
  const step = new AwsCallStep(adapter, { aws: { region: 'eu-west-1' } } as AppConfig, { now: () => new Date('2026-12-01T10:00:00Z') } as Clock);
  const checkpoints: Array<Record<string, unknown>> = [];
  const ctx = (over: Partial<StepContext> = {}): StepContext => ({
    runId: 'r1',
    runbookId: 'rb',
    stepId: 'create',
    attempt: 1,
    startedAt: new Date(),
    memory: {},
    checkpoint: async (m) => void checkpoints.push(m),
    dryRun: false,
    expiresAt: new Date(),
    aws: {} as never,
    log: { log: () => {}, warn: () => {}, debug: () => {} },
    ...over,
  });
  return { step, sent, ctx, checkpoints };
}

describe('aws.call: safe to resume', () => {
  it('sends an idempotency token derived from run and step where the API takes one: the same on a resend, another in another run', async () => {
    const { step, sent, ctx, checkpoints } = harness();
    const t = step.forDefinition({ uses: 'aws.call', mutates: true, outputs: {} });
    const input = { service: 'ecs', api: 'CreateService', input: { serviceName: 'web' } };
    await t.run(input, ctx());
    await t.run(input, ctx({ attempt: 2 }));
    await t.run(input, ctx({ runId: 'r2' }));
    expect(sent.map((s) => s.input.clientToken)).toEqual([derivedToken('r1', 'create'), derivedToken('r1', 'create'), derivedToken('r2', 'create')]);
    expect(sent[0].input.clientToken).not.toBe(sent[2].input.clientToken);
    expect(String(sent[0].input.clientToken)).toHaveLength(36);
    expect(sent.every((s) => s.mutates)).toBe(true);
    // A token call needs no recorded intent: the token makes the resend a no-op.
    expect(checkpoints).toEqual([]);
    // The plan shows the token a run would send.
    expect((await t.plan!(input, ctx()))[0].input.clientToken).toBe(derivedToken('r1', 'create'));
    // An author's own token wins.
    await t.run({ ...input, input: { serviceName: 'web', clientToken: 'mine' } }, ctx());
    expect(sent.at(-1)!.input.clientToken).toBe('mine');
  });

  it('without a token: records intent before sending; on resume looks first and does not send again when found', async () => {
    const { step, sent, ctx, checkpoints } = harness({ DescribeDBSnapshots: { DBSnapshots: [{ DBSnapshotIdentifier: 's', Status: 'creating' }] } });
    const t = step.forDefinition({
      uses: 'aws.call',
      mutates: true,
      outputs: { id: 'DBSnapshot.DBSnapshotIdentifier || DBSnapshots[0].DBSnapshotIdentifier' },
    });
    const input = {
      service: 'rds',
      api: 'CreateDBSnapshot',
      input: { DBInstanceIdentifier: 'db', DBSnapshotIdentifier: 's' },
      lookFirst: { api: 'DescribeDBSnapshots', input: { DBSnapshotIdentifier: 's' }, found: 'length(DBSnapshots) > `0`' },
    };
    await t.run(input, ctx());
    expect(checkpoints).toEqual([{ intentAt: '2026-12-01T10:00:00.000Z' }]);
    expect(sent.map((s) => s.api)).toEqual(['CreateDBSnapshot']);

    sent.length = 0;
    const resumed = await t.run(input, ctx({ attempt: 2, memory: { intentAt: '2026-12-01T10:00:00.000Z' } }));
    expect(sent.map((s) => [s.api, s.mutates])).toEqual([['DescribeDBSnapshots', false]]);
    expect(resumed).toEqual({ kind: 'done', output: { id: 's' } });
  });

  it('on resume, a look answered NotFound means the call did not take effect: it is sent', async () => {
    const notFound = new AwsStepError('AWS_NOT_FOUND', 'no snapshot', { service: 'rds', operation: 'DescribeDBSnapshots' });
    const { step, sent, ctx } = harness({ DescribeDBSnapshots: notFound });
    const t = step.forDefinition({ uses: 'aws.call', mutates: true });
    await t.run(
      {
        service: 'rds',
        api: 'CreateDBSnapshot',
        input: {},
        lookFirst: { api: 'DescribeDBSnapshots', input: {}, found: 'length(DBSnapshots) > `0`' },
      },
      ctx({ memory: { intentAt: 'x' } }),
    );
    expect(sent.map((s) => s.api)).toEqual(['DescribeDBSnapshots', 'CreateDBSnapshot']);
  });

  it('a read-only definition of a state-changing API is still sent through the audited door', async () => {
    const { step, sent, ctx } = harness();
    await step.forDefinition({ uses: 'aws.call' }).run({ service: 'rds', api: 'DeleteDBSnapshot', input: {}, repeatable: true }, ctx());
    expect(sent[0].mutates).toBe(true);
  });
});
