import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { RunbookError, type DefinitionProblem } from '../../src/runbooks/runbook.error';
import { STEP_CLASSES } from '../../src/steps/step-catalog';

const noop: StepType = {
  uses: 'core.noop',
  description: 'noop',
  mutates: false,
  input: { type: 'object' },
  outputs: [],
  run: async () => ({ kind: 'done', output: {} }),
};
const registry = new StepRegistry([noop]);
const ROOT = path.resolve(__dirname, '..', '..');

describe('runbook fleet: sections', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-fleet-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const runbook = (fleet: string) =>
    `id: one\ntitle: One\nparameters:\n  properties:\n    db: { type: string }\n    region: { type: string }\n    mode: { type: string }\n${fleet}\nsteps:\n  - id: a\n    uses: core.noop\n`;
  const problems = (text: string): DefinitionProblem[] => {
    writeFileSync(path.join(dir, 'one.yaml'), text);
    try {
      loadRunbooks(dir, registry);
    } catch (err) {
      expect(err).toBeInstanceOf(RunbookError);
      return (err as RunbookError).details.problems as DefinitionProblem[];
    }
    return [];
  };

  it('loads a binding of declared parameters from target fields, constants included', () => {
    expect(
      problems(runbook('fleet:\n  resourceTypes: [rds:db]\n  bind:\n    db: ${{ target.id }}\n    region: ${{ target.region }}\n    mode: drill')),
    ).toEqual([]);
    const [loaded] = loadRunbooks(dir, registry);
    expect(loaded.definition.fleet).toEqual({ resourceTypes: ['rds:db'], bind: { db: '${{ target.id }}', region: '${{ target.region }}', mode: 'drill' } });
  });

  it('refuses what a binding cannot mean, naming the place', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['fleet:\n  resourceTypes: [rds:db]\n  bind:\n    nope: ${{ target.id }}', 'fleet.bind.nope', /no parameter "nope"/],
      ['fleet:\n  resourceTypes: [rds:db]\n  bind:\n    db: ${{ params.db }}', 'fleet.bind.db', /target\.\* only/],
      ['fleet:\n  resourceTypes: [rds:db]\n  bind:\n    db: ${{ target.name }}', 'fleet.bind.db', /target has id, arn/],
      ['fleet:\n  resourceTypes: [rds:db]\n  bind:\n    db: ${{ target.cluster }}', 'fleet.bind.db', /only ECS services/],
      ['fleet:\n  resourceTypes: [rds:db]\n  bind:\n    mode: drill', 'fleet.bind', /must take something from the target/],
      ['fleet:\n  resourceTypes: [ec2:instance]\n  bind:\n    db: ${{ target.id }}', 'fleet.resourceTypes[0]', /must be equal to one of the allowed values/],
      ['fleet:\n  resourceTypes: [rds:db]', 'fleet', /missing required property "bind"/],
    ];
    for (const [fleet, where, reason] of cases) {
      const found = problems(runbook(fleet));
      expect({ fleet, found }).toEqual({ fleet, found: [expect.objectContaining({ path: where, reason: expect.stringMatching(reason) })] });
    }
  });

  it('the shipped fleet runbooks load with the real step catalog and bind their resource', () => {
    const real = new StepRegistry(STEP_CLASSES.map((C) => new (C as unknown as new (...a: unknown[]) => StepType)()));
    const fleets = Object.fromEntries(
      loadRunbooks(path.join(ROOT, 'runbooks'), real)
        .filter((l) => l.definition.fleet)
        .map((l) => [l.definition.id, l.definition.fleet]),
    );
    expect(Object.keys(fleets).sort()).toEqual(['backup-verification', 'canary-rollback', 'capacity-report', 'failover-test', 'point-in-time-restore']);
    expect(fleets['backup-verification']).toEqual({
      resourceTypes: ['rds:db'],
      bind: { dbInstanceIdentifier: '${{ target.id }}', region: '${{ target.region }}', roleArn: '${{ target.roleArn }}' },
    });
    expect(fleets['canary-rollback']).toMatchObject({
      resourceTypes: ['ecs:service'],
      bind: { cluster: '${{ target.cluster }}', service: '${{ target.id }}' },
    });
    expect(fleets['point-in-time-restore']).toMatchObject({ bind: { mode: 'drill' } });
    expect(fleets['failover-test']).toMatchObject({ resourceTypes: ['rds:cluster'], bind: { environment: '${{ target.tags.environment }}' } });
  });
});
