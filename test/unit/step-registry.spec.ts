import { StepRegistry } from '../../src/steps/step-registry';
import { done, type StepType } from '../../src/steps/step.contract';

const stepType = (uses: string, input: Record<string, unknown>): StepType => ({
  uses,
  description: uses,
  mutates: false,
  input,
  outputs: [],
  iamActions: [],
  run: async () => done({}),
});

describe('StepRegistry', () => {
  it('compiles every input schema when it is built: a schema that does not compile stops boot, naming the step type', () => {
    expect(
      () => new StepRegistry([stepType('x.good', { type: 'object' }), stepType('x.bad', { type: 'object', properties: { n: { type: 'numbr' } } })]),
    ).toThrow(/step type x\.bad: its input schema does not compile/);
  });

  it('checks an input against the compiled schema, filling in defaults', () => {
    const registry = new StepRegistry([
      stepType('x.sleep', { type: 'object', required: ['s'], properties: { s: { type: 'number' }, note: { type: 'string', default: 'z' } } }),
    ]);
    const input: Record<string, unknown> = { s: 1 };
    expect(registry.checkInput('x.sleep', input)).toEqual([]);
    expect(input).toEqual({ s: 1, note: 'z' });
    expect(registry.checkInput('x.sleep', { s: 'one' })).toEqual(['/s must be number']);
  });
});
