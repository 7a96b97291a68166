import Ajv from 'ajv';
import { describeParameterErrors } from '../../src/runbooks/runbook-catalog.service';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validate = ajv.compile({
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['clusterIdentifier'] }, { required: ['dbInstanceIdentifier'] }],
  properties: { clusterIdentifier: { type: 'string' }, dbInstanceIdentifier: { type: 'string' }, maxSwitchSeconds: { type: 'number' } },
});
const errorsFor = (v: unknown) => (validate(v) ? [] : describeParameterErrors(validate.errors ?? []));

describe('parameter errors a caller can act on', () => {
  it('says "exactly one of" when neither alternative is given, without contradictory missing-property lines', () => {
    expect(errorsFor({})).toEqual([{ field: '(parameters)', message: 'give exactly one of: clusterIdentifier, dbInstanceIdentifier' }]);
  });

  it('says the same when both are given', () => {
    expect(errorsFor({ clusterIdentifier: 'a', dbInstanceIdentifier: 'b' })).toEqual([
      { field: '(parameters)', message: 'give exactly one of: clusterIdentifier, dbInstanceIdentifier' },
    ]);
  });

  it('still names every other bad field', () => {
    expect(errorsFor({ clusterIdentifier: 'a', maxSwitchSeconds: 'fast', clusterIdentifer: 'typo' })).toEqual(
      expect.arrayContaining([
        { field: 'maxSwitchSeconds', message: 'must be number' },
        { field: 'clusterIdentifer', message: 'unknown property "clusterIdentifer"' },
      ]),
    );
  });
});
