import { readdirSync } from 'node:fs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AWS_SERVICES } from '../../src/aws/aws-services';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { RunbookError, type DefinitionProblem } from '../../src/runbooks/runbook.error';
import { STEP_CLASSES } from '../../src/steps/step-catalog';

const ROOT = path.resolve(__dirname, '..', '..');
const registry = new StepRegistry(STEP_CLASSES.map((C) => new (C as unknown as new (...a: unknown[]) => StepType)()));

/** The generic steps' promises at load time: a typo or an undeclared change fails at boot, with file and path. */
describe('loader: generic aws.* steps and expressions', () => {
  let dir: string;
  const load = (steps: string, extra = '') => {
    const file = path.join(dir, 'probe.yaml');
    writeFileSync(file, `id: probe\ntitle: Probe\nparameters:\n  properties:\n    id: { type: string }\n    flag: { type: boolean }\n${extra}steps:\n${steps}`);
    try {
      return { loaded: loadRunbooks(dir, registry), problems: [] as string[] };
    } catch (err) {
      if (!(err instanceof RunbookError)) throw err;
      return { loaded: [], problems: (err.details.problems as DefinitionProblem[]).map((p) => `${path.basename(p.file)}: ${p.path}: ${p.reason}`) };
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-generic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a read-only call with outputs, and a later step reading them (hyphenated id)', () => {
    const { loaded, problems } = load(`
  - id: look-up
    uses: aws.call
    with: { service: rds, api: DescribeDBInstances, input: { DBInstanceIdentifier: "\${{ params.id }}" } }
    outputs: { status: "DBInstances[0].DBInstanceStatus", arn: "DBInstances[0].DBInstanceArn" }
  - id: echo
    uses: core.noop
    if: "\${{ steps.look-up.status == 'available' && !(params.flag) }}"
    with: { echo: "\${{ steps.look-up.arn }}" }
`);
    expect(problems).toEqual([]);
    expect(registry.forStep(loaded[0].definition.steps[0])!.outputs).toEqual(['status', 'arn']);
    expect(registry.forStep(loaded[0].definition.steps[0])!.mutates).toBe(false);
  });

  it("a client is usable once it is in the registry: the loader takes the registry's list, not the schema file's", () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'runbooks', 'schema.json'), 'utf8'));
    schema.definitions.awsService.enum = ['rds'];
    const schemaFile = path.join(dir, 'schema.json');
    writeFileSync(schemaFile, JSON.stringify(schema));
    writeFileSync(
      path.join(dir, 'probe.yaml'),
      `id: probe\ntitle: Probe\nsteps:
  - id: health
    uses: aws.assert
    with: { service: elbv2, api: DescribeTargetHealth, input: { TargetGroupArn: x }, that: "length(TargetHealthDescriptions) > \`0\`" }
`,
    );
    expect(loadRunbooks(dir, registry, schemaFile).map((l) => l.definition.id)).toEqual(['probe']);
  });

  it("schema.json completes every shipped client's name in an editor, and no other", () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'runbooks', 'schema.json'), 'utf8'));
    expect([...schema.definitions.awsService.enum].sort()).toEqual(Object.keys(AWS_SERVICES).sort());
  });

  it('refuses an unknown service and an unknown api, naming what exists', () => {
    expect(
      load(`
  - id: a
    uses: aws.call
    with: { service: dynamodb, api: Scan }
`).problems,
    ).toEqual([
      expect.stringMatching(/^probe\.yaml: steps\[0\]\.with\.service: must be equal to one of the allowed values: "rds", "ecs", "cloudwatch", "backup", "sns"/),
    ]);
    expect(
      load(`
  - id: b
    uses: aws.call
    with: { service: rds, api: DescribeDBInstance }
`).problems,
    ).toEqual([expect.stringMatching(/^probe\.yaml: steps\[0\]\.with\.api: rds has no API "DescribeDBInstance" \(did you mean .*DescribeDBInstances/)]);
  });

  it('refuses a state-changing api not declared mutates: true, and one declared false', () => {
    const { problems } = load(`
  - id: a
    uses: aws.call
    with: { service: rds, api: DeleteDBInstance, input: { DBInstanceIdentifier: x }, repeatable: true }
  - id: b
    uses: aws.call
    mutates: false
    with: { service: ecs, api: UpdateService, input: { service: s }, repeatable: true }
`);
    expect(problems).toEqual([
      expect.stringMatching(/steps\[0\]\.mutates: rds:DeleteDBInstance can change state: declare mutates: true/),
      expect.stringMatching(/steps\[1\]\.mutates: ecs:UpdateService can change state: declare mutates: true/),
    ]);
  });

  it('refuses a mutating call without idempotency token, lookFirst or repeatable; accepts each way of being safe to resume', () => {
    const bad = load(`
  - id: snap
    uses: aws.call
    mutates: true
    with: { service: rds, api: CreateDBSnapshot, input: { DBInstanceIdentifier: x, DBSnapshotIdentifier: y } }
`);
    expect(bad.problems).toEqual([expect.stringMatching(/steps\[0\]\.with: rds:CreateDBSnapshot has no idempotency input: say how a resumed run tells/)]);
    const good = load(`
  - id: snap
    uses: aws.call
    mutates: true
    with:
      service: rds
      api: CreateDBSnapshot
      input: { DBInstanceIdentifier: x, DBSnapshotIdentifier: y }
      lookFirst: { api: DescribeDBSnapshots, input: { DBSnapshotIdentifier: y }, found: "length(DBSnapshots) > \`0\`" }
  - id: scale
    uses: aws.call
    mutates: true
    with: { service: ecs, api: UpdateService, input: { service: s, desiredCount: 2 }, repeatable: true }
  - id: create
    uses: aws.call
    mutates: true
    with: { service: ecs, api: CreateService, input: { serviceName: s } }
`);
    expect(good.problems).toEqual([]);
    expect(registry.forStep(good.loaded[0].definition.steps[0])!.mutates).toBe(true);
  });

  it('refuses a bad JMESPath in until, failWhen, that, found and outputs; a mutating api in a wait or assert', () => {
    const { problems } = load(`
  - id: a
    uses: aws.wait-until
    with: { service: rds, api: DescribeDBSnapshots, until: "DBSnapshots[0].Status ==", failWhen: "[?" }
    outputs: { x: "a..b" }
  - id: b
    uses: aws.assert
    with: { service: rds, api: DescribeDBInstances, that: "length(DBInstances) >" }
  - id: c
    uses: aws.wait-until
    with: { service: rds, api: RebootDBInstance, until: "x" }
  - id: d
    uses: aws.call
    mutates: true
    with: { service: rds, api: CreateDBSnapshot, lookFirst: { api: DeleteDBSnapshot, found: "(" } }
`);
    const at = problems.map((p) => p.split(': ')[1]);
    expect(at).toEqual(
      expect.arrayContaining([
        'steps[0].with.until',
        'steps[0].with.failWhen',
        'steps[0].outputs.x',
        'steps[1].with.that',
        'steps[2].with.api',
        'steps[3].with.lookFirst.api',
        'steps[3].with.lookFirst.found',
      ]),
    );
    expect(problems.find((p) => p.includes('steps[2].with.api'))).toMatch(/changes state; aws.wait-until polls read-only APIs/);
  });

  it('refuses an output a later step reads but the call does not declare', () => {
    const { problems } = load(`
  - id: a
    uses: aws.call
    with: { service: rds, api: DescribeDBInstances }
    outputs: { status: "DBInstances[0].DBInstanceStatus" }
  - id: b
    uses: core.noop
    with: { echo: "\${{ steps.a.statsu }}" }
`);
    expect(problems).toEqual([expect.stringMatching(/steps\[1\]\.with\.echo: .*step "a" \(aws\.call\) has no output "statsu" \(it has: status\)/)]);
  });

  it('refuses an if: that is more than one expression (it would always be true), and mutates/outputs on a fixed step', () => {
    const { problems } = load(`
  - id: a
    uses: core.noop
    if: "\${{ params.flag }} && \${{ params.id }}"
  - id: b
    uses: core.noop
    if: "\${{ params.flag }} == true"
  - id: c
    uses: core.noop
    mutates: true
    outputs: { x: "y" }
`);
    expect(problems).toEqual([
      expect.stringMatching(/steps\[0\]\.if: must be exactly one \$\{\{ \}\} expression/),
      expect.stringMatching(/steps\[1\]\.if: must be exactly one \$\{\{ \}\} expression/),
      expect.stringMatching(/steps\[2\]\.mutates: only generic steps/),
      expect.stringMatching(/steps\[2\]\.outputs: only generic steps/),
    ]);
  });

  it('a typo in an expression fails with file and path', () => {
    const { problems } = load(`
  - id: a
    uses: core.noop
    with: { echo: "\${{ params.id == }}" }
  - id: b
    uses: core.noop
    with: { echo: "\${{ !params.flag }}" }
`);
    expect(problems).toEqual([
      expect.stringMatching(/^probe\.yaml: steps\[0\]\.with: \$\{\{ params\.id == \}\} is not a valid expression/),
      expect.stringMatching(/^probe\.yaml: steps\[1\]\.with: .*write !\(a\.b\)/),
    ]);
  });

  it('checks onFailure: a later step of the same phase, or fail / continue', () => {
    const { problems } = load(`
  - id: a
    uses: core.noop
    onFailure: step:a
  - id: b
    uses: core.noop
    onFailure: step:nowhere
  - id: c
    uses: core.noop
    onFailure: continue
    continueOnFailure: false
  - id: d
    uses: core.noop
    onFailure: step:e
  - id: e
    uses: core.noop
    continueOnFailure: true
`);
    expect(problems).toEqual([
      expect.stringMatching(/steps\[0\]\.onFailure: step "a" is not after this one/),
      expect.stringMatching(/steps\[1\]\.onFailure: no step "nowhere" in steps/),
      expect.stringMatching(/steps\[2\]\.continueOnFailure: contradicts onFailure: continue/),
    ]);
  });

  it('every shipped runbook still loads', () => {
    const dir = path.join(ROOT, 'runbooks');
    const loaded = loadRunbooks(dir, registry);
    // Every file, not "at least some": a runbook that silently drops out of the catalogue fails here.
    expect(loaded.length).toBe(readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).length);
  });
});
