import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { RunbookError, type DefinitionProblem } from '../../src/runbooks/runbook.error';
import { STEP_CLASSES } from '../../src/steps/step-catalog';

const ROOT = path.resolve(__dirname, '..', '..');

const fake = (uses: string, outputs: string[], mutates = false): StepType => ({
  uses,
  description: uses,
  mutates,
  input: { type: 'object' },
  outputs,
  run: async () => ({ kind: 'done', output: {} }),
  ...(mutates ? { plan: async () => [] } : {}),
});

const registry = new StepRegistry([fake('core.noop', ['echo']), fake('rds.failover', ['requestedAtMs'], true)]);

describe('runbook loader', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const problemsOf = (fn: () => unknown): DefinitionProblem[] => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RunbookError);
      expect((err as RunbookError).code).toBe('RUNBOOK_INVALID');
      return (err as RunbookError).details.problems as DefinitionProblem[];
    }
    throw new Error('expected the load to fail');
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-loader-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a valid runbook and fills in what may be left out', () => {
    write('small.yaml', 'id: small\ntitle: Small\nparameters:\n  properties:\n    n: { type: integer }\nsteps:\n  - id: one\n    uses: core.noop\n');
    write('notes.txt', 'not a runbook');
    const [loaded, ...rest] = loadRunbooks(dir, registry);
    expect(rest).toEqual([]);
    expect(loaded.file).toBe(path.join(dir, 'small.yaml'));
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
    const def = loaded.definition;
    // A misspelt parameter is refused unless the author allows extra ones.
    expect(def.parameters).toMatchObject({ type: 'object', additionalProperties: false });
    expect(def.triggers).toEqual([{ manual: {} }]);
    expect(def.cleanup).toEqual([]);
    expect(def.guards).toEqual({});
    expect(def.steps[0].with).toEqual({});
  });

  it('loads the shipped runbooks against the real step catalog', () => {
    const real = new StepRegistry(STEP_CLASSES.map((C) => new (C as unknown as new (...a: unknown[]) => StepType)()));
    const loaded = loadRunbooks(path.join(ROOT, 'runbooks'), real);
    expect(loaded.map((l) => l.definition.id).sort()).toEqual([
      'backup-verification',
      'canary-rollback',
      'capacity-report',
      'ecs-deploy-with-target-health',
      'ecs-force-new-deployment',
      'ecs-mark-known-good',
      'ecs-scale-with-guard',
      'failover-test',
      'janitor',
      'monthly-dr-drill',
      'point-in-time-restore',
      'rds-manual-snapshot',
    ]);
  });

  it("checks a step's literal with: values against its input schema at load, and leaves expressions to run time", () => {
    const typed: StepType = {
      ...fake('core.typed', ['ok']),
      input: {
        type: 'object',
        required: ['cluster', 'maxSeconds'],
        additionalProperties: false,
        properties: { cluster: { type: 'string', pattern: '^[a-z-]+$' }, maxSeconds: { type: 'integer', minimum: 1 }, tags: { type: 'object' } },
      },
    };
    const reg = new StepRegistry([typed]);
    const step = (id: string, w: string) => `  - { id: ${id}, uses: core.typed, with: ${w} }`;
    const file = write(
      'typed.yaml',
      [
        'id: typed',
        'title: Typed',
        'parameters:',
        '  properties:',
        '    n: { type: string }',
        'steps:',
        step('words', '{ cluster: orders, maxSeconds: sixty }'),
        step('missing', '{ cluster: orders }'),
        step('extra', '{ cluster: orders, maxSeconds: 5, clustr: x }'),
        // Known only at run time: not judged at load.
        step('late', '{ cluster: "${{ params.n }}", maxSeconds: "${{ params.n }}", tags: "${{ params.n }}" }'),
        step('fine', '{ cluster: orders, maxSeconds: 60 }'),
      ].join('\n'),
    );
    expect(problemsOf(() => loadRunbooks(dir, reg))).toEqual([
      { file, path: 'steps[0].with.maxSeconds', reason: 'must be integer' },
      { file, path: 'steps[1].with', reason: 'missing required property "maxSeconds"' },
      { file, path: 'steps[2].with', reason: 'unknown property "clustr"' },
    ]);
  });

  it('reports every problem in every file at once, each with file and place', () => {
    const a = write(
      'alpha.yaml',
      [
        'id: alpha',
        'title: Alpha',
        'parameters:',
        '  properties:',
        '    cluster: { type: string }',
        'guards:',
        '  concurrency: "x/${{ params.clustr }}"',
        'steps:',
        '  - id: one',
        '    uses: core.noop',
        '    with: { echo: "${{ steps.later.echo }}" }',
        '  - id: two',
        '    uses: rds.explode',
        '  - id: one',
        '    uses: core.noop',
        '    with: { echo: "${{ 1+1 }}" }',
        '  - id: three',
        '    uses: core.noop',
        '    if: "${{ steps.two.ok }}"',
        '    with: { echo: "${{ run.secret }}" }',
      ].join('\n'),
    );
    const b = write('beta.yaml', 'id: beta\ntitle: Beta\nsteps: []\nextra: 1\n');
    const c = write('gamma.yaml', 'id: not-gamma\ntitle: Gamma\nsteps:\n  - { id: one, uses: core.noop }\n');
    const d = write('delta.yaml', 'id: delta\ntitle: Delta\nsteps:\n  - id: one\n    uses: core.noop\n    with: { a: 1 \n');

    const problems = problemsOf(() => loadRunbooks(dir, registry));
    const at = (file: string) => problems.filter((p) => p.file === file).map((p) => `${p.path}: ${p.reason}`);

    expect(at(a)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^guards\.concurrency: .*no parameter "clustr"/),
        expect.stringMatching(/^steps\[0\]\.with\.echo: .*no earlier step "later"/),
        expect.stringMatching(/^steps\[1\]\.uses: unknown step type "rds\.explode"/),
        expect.stringMatching(/^steps\[2\]\.id: step id "one" is used twice/),
        expect.stringMatching(/^steps\[2\]\.with: .*is not a valid expression/),
        expect.stringMatching(/^steps\[3\]\.if: .*step "two" \(rds\.explode\) has no output "ok"/),
        expect.stringMatching(/^steps\[3\]\.with\.echo: .*run has id/),
      ]),
    );
    expect(at(b)).toEqual(expect.arrayContaining([expect.stringMatching(/unknown property "extra"/), expect.stringMatching(/^steps: /)]));
    expect(at(c)).toEqual([expect.stringMatching(/^id: id "not-gamma" must match the file name/)]);
    expect(at(d)).toEqual([expect.stringMatching(/^line \d+, column \d+: /)]);

    // The message alone (what boot prints) carries all of it.
    const message = (() => {
      try {
        loadRunbooks(dir, registry);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    for (const p of problems) expect(message).toContain(`${p.file}: ${p.path || '(root)'}: ${p.reason}`);
  });

  it('refuses a step output that the step type does not declare', () => {
    const file = write(
      'outs.yaml',
      'id: outs\ntitle: Outs\nsteps:\n  - id: go\n    uses: rds.failover\n  - id: after\n    uses: core.noop\n    with: { echo: "${{ steps.go.requestedAtMs }} ${{ steps.go.writer }}" }\n',
    );
    const problems = problemsOf(() => loadRunbooks(dir, registry));
    expect(problems).toEqual([
      { file, path: 'steps[1].with.echo', reason: expect.stringMatching(/step "go" \(rds\.failover\) has no output "writer" \(it has: requestedAtMs\)/) },
    ]);
  });

  it('lets cleanup see main steps but not main steps see cleanup', () => {
    write(
      'order.yaml',
      [
        'id: order',
        'title: Order',
        'steps:',
        '  - id: main-one',
        '    uses: core.noop',
        '    with: { echo: "${{ steps.tidy.echo }}" }',
        'cleanup:',
        '  - id: tidy',
        '    uses: core.noop',
        '    with: { echo: "${{ steps.main-one.echo }}" }',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadRunbooks(dir, registry));
    expect(problems.map((p) => p.path)).toEqual(['steps[0].with.echo']);
  });

  it('refuses a parameters block that is not a usable JSON Schema, and a zero timeout', () => {
    write(
      'schema.yaml',
      'id: schema\ntitle: S\nparameters:\n  properties:\n    n: { type: integr }\nguards:\n  timeout: 0s\nsteps:\n  - { id: one, uses: core.noop }\n',
    );
    const problems = problemsOf(() => loadRunbooks(dir, registry));
    expect(problems.map((p) => p.path).sort()).toEqual(['guards.timeout', 'parameters']);
  });
});
