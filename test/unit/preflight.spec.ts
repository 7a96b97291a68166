import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AwsStepError } from '../../src/aws/aws.error';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';
import { EngineError } from '../../src/engine/engine.error';
import { PreflightService } from '../../src/engine/preflight.service';
import { PolicyService } from '../../src/policy/policy.service';
import { StepRegistry } from '../../src/steps/step-registry';
import { done, wait, type StepType } from '../../src/steps/step.contract';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { RunbookError, type DefinitionProblem } from '../../src/runbooks/runbook.error';
import type { RunbookDefinition } from '../../src/model/runbook.types';

/** The runbook `preflight:` mechanism: what the loader accepts, and how a refusal reads. */
const step = (uses: string, run: StepType['run'], mutates = false): StepType => ({
  uses,
  description: uses,
  mutates,
  input: { type: 'object', properties: { n: { type: 'number' } } },
  outputs: ['ok', 'findings', 'seen'],
  run,
  ...(mutates ? { plan: async () => [] } : {}),
});

let behaviour: StepType['run'] = async () => done({ ok: true });
const registry = new StepRegistry([
  step('test.check', (i, c) => behaviour(i, c)),
  step('test.echo', async (input) => done({ seen: input })),
  step('test.change', async () => done({}), true),
]);
const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1' }, scope: { policyFile: undefined } });
const service = new PreflightService(registry, config, new Clock(), new PolicyService(config));

const def = (preflight: RunbookDefinition['preflight']): RunbookDefinition => ({
  id: 'rb',
  title: 'rb',
  parameters: {},
  guards: {},
  steps: [],
  cleanup: [],
  triggers: [],
  preflight,
});
const request = (d: RunbookDefinition, parameters: Record<string, unknown> = {}) =>
  service.run({ definition: d, parameters, runId: 'r1', actor: 'otto', dryRun: false, expiresAt: new Date('2030-01-01T00:00:00Z') });

describe('preflight steps at acceptance', () => {
  it('returns each step’s result for the run, later preflight steps seeing earlier outputs and the parameters', async () => {
    behaviour = async () => done({ ok: true, findings: [{ id: 'x', title: 'X', passed: true }] });
    const results = await request(
      def([
        { id: 'a', uses: 'test.check', with: {} },
        { id: 'b', uses: 'test.echo', with: { n: '${{ params.n }}', from: '${{ steps.a.ok }}' } },
      ]),
      { n: 3 },
    );
    expect(results.map((r) => [r.stepId, r.state, r.phase, r.position])).toEqual([
      ['a', 'succeeded', 'main', -2],
      ['b', 'succeeded', 'main', -1],
    ]);
    expect(results[1].output).toEqual({ seen: { n: 3, from: true } });
  });

  it('a failed finding refuses the run with PREFLIGHT_FAILED naming what failed (the finding’s detail)', async () => {
    behaviour = async () =>
      done({ findings: [{ id: 'window', title: 'In window', passed: false, detail: 'restoreTime T is outside the restorable window of db: A to B' }] });
    const err = await request(def([{ id: 'w', uses: 'test.check', with: {} }])).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('PREFLIGHT_FAILED');
    expect(err.message).toBe('preflight "w" refused the run: restoreTime T is outside the restorable window of db: A to B');
    expect(err.details).toMatchObject({ stepId: 'w', uses: 'test.check', findings: [{ id: 'window', passed: false }] });
  });

  it('a coded error refuses the run too; AWS being throttled or away keeps its own code', async () => {
    behaviour = async () => {
      throw new AwsStepError('AWS_NOT_FOUND', 'rds:DescribeDBInstances failed (DBInstanceNotFoundFault): no such db', {
        service: 'rds',
        operation: 'DescribeDBInstances',
      });
    };
    await expect(request(def([{ id: 'w', uses: 'test.check', with: {} }]))).rejects.toMatchObject({
      code: 'PREFLIGHT_FAILED',
      message: expect.stringContaining('DBInstanceNotFoundFault'),
      details: { cause: { code: 'AWS_NOT_FOUND' } },
    });
    behaviour = async () => {
      throw new AwsStepError('AWS_THROTTLED', 'slow down', { service: 'rds', operation: 'DescribeDBInstances' });
    };
    await expect(request(def([{ id: 'w', uses: 'test.check', with: {} }]))).rejects.toMatchObject({ code: 'AWS_THROTTLED' });
  });

  it('a preflight step may not wait', async () => {
    behaviour = async () => wait(5);
    await expect(request(def([{ id: 'w', uses: 'test.check', with: {} }]))).rejects.toMatchObject({
      code: 'PREFLIGHT_FAILED',
      message: expect.stringContaining('must answer at once'),
    });
  });
});

describe('the loader and preflight', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-preflight-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a step that changes state in preflight, and lets main steps read preflight outputs', () => {
    writeFileSync(path.join(dir, 'bad.yaml'), 'id: bad\ntitle: Bad\npreflight:\n  - id: p\n    uses: test.change\nsteps:\n  - id: s\n    uses: test.echo\n');
    writeFileSync(
      path.join(dir, 'good.yaml'),
      'id: good\ntitle: Good\npreflight:\n  - id: p\n    uses: test.check\nsteps:\n  - id: s\n    uses: test.echo\n    with: { n: "${{ steps.p.ok }}" }\n',
    );
    let problems: DefinitionProblem[] = [];
    try {
      loadRunbooks(dir, registry);
    } catch (err) {
      expect(err).toBeInstanceOf(RunbookError);
      problems = (err as RunbookError).details.problems as DefinitionProblem[];
    }
    expect(problems).toEqual([
      { file: path.join(dir, 'bad.yaml'), path: 'preflight[0].uses', reason: 'preflight steps must be read-only; test.change changes state' },
    ]);
    rmSync(path.join(dir, 'bad.yaml'));
    expect(loadRunbooks(dir, registry)[0].definition.preflight).toEqual([{ id: 'p', uses: 'test.check', with: {} }]);
  });
});
