import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { RunbookError, type DefinitionProblem } from '../../src/runbooks/runbook.error';

const fake = (uses: string): StepType => ({
  uses,
  description: uses,
  mutates: false,
  input: { type: 'object' },
  outputs: [],
  run: async () => ({ kind: 'done', output: {} }),
});
const registry = new StepRegistry([fake('core.noop'), fake('runbook.run')]);

/** A composite runbook must not be able to start itself without end, nor a runbook its caller picks. */
describe('composite runbooks at load time', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-composite-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (id: string, steps: string) =>
    writeFileSync(path.join(dir, `${id}.yaml`), `id: ${id}\ntitle: ${id}\nparameters:\n  properties:\n    child: { type: string }\nsteps:\n${steps}`);
  const child = (name: string, id = 'call') => `  - id: ${id}\n    uses: runbook.run\n    with: { runbook: "${name}" }\n`;
  const problems = (): DefinitionProblem[] => {
    try {
      loadRunbooks(dir, registry);
    } catch (err) {
      if (err instanceof RunbookError) return err.details.problems as DefinitionProblem[];
      throw err;
    }
    return [];
  };

  it('refuses a runbook that starts itself, and a cycle through others, naming the cycle', () => {
    write('selfish', child('selfish'));
    write('ping', child('pong'));
    write('pong', child('pang'));
    write('pang', child('ping'));
    const found = problems().map((p) => p.reason);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/selfish → selfish/),
        expect.stringMatching(/ping → pong → pang → ping|pong → pang → ping → pong|pang → ping → pong → pang/),
      ]),
    );
  });

  it('refuses a child runbook named by an expression', () => {
    write('leaf', '  - { id: one, uses: core.noop }\n');
    write('picker', child('${{ params.child }}'));
    expect(problems()).toEqual([expect.objectContaining({ path: 'steps.call.with.runbook', reason: expect.stringMatching(/literally/) })]);
  });

  it('accepts a tree of composite runbooks', () => {
    write('leaf', '  - { id: one, uses: core.noop }\n');
    write('middle', child('leaf'));
    write('top', child('middle') + child('leaf', 'again'));
    expect(problems()).toEqual([]);
  });
});
