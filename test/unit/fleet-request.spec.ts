import { FleetError } from '../../src/fleets/fleet.error';
import { bindTarget, checkCommonParameters, fleetLimits, parseArn, parseFleetRequest, parseRate } from '../../src/fleets/fleet-request';
import type { FleetSettings } from '../../src/model/runbook.types';

const fleet: FleetSettings = {
  resourceTypes: ['rds:db'],
  bind: { dbInstanceIdentifier: '${{ target.id }}', region: '${{ target.region }}', roleArn: '${{ target.roleArn }}' },
};

function refusal(fn: () => unknown): { code: string; field: unknown; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetError);
    const e = err as FleetError;
    return { code: e.code, field: e.details.field, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('fleet request parsing', () => {
  it('takes tags, accounts and regions, with SSM-like defaults for rate control', () => {
    const req = parseFleetRequest(
      'backup-verification',
      fleet,
      {
        targets: {
          resourceType: 'rds:db',
          tags: { environment: 'production', tier: ['gold', 'silver'] },
          accounts: ['111111111111', '222222222222'],
          regions: ['us-east-1', 'eu-west-1'],
        },
      },
      [],
    );
    expect(req).toEqual({
      selector: {
        kind: 'tags',
        resourceType: 'rds:db',
        tags: { environment: ['production'], tier: ['gold', 'silver'] },
        accounts: ['111111111111', '222222222222'],
        regions: ['us-east-1', 'eu-west-1'],
      },
      maxConcurrency: { count: 10 },
      maxErrors: { count: 0 },
      maxConcurrencyPerAccountRegion: null,
      allowEmpty: false,
    });
  });

  it('expands accounts: "allowed" to the allow-list, and refuses it without one', () => {
    const req = parseFleetRequest('b', fleet, { targets: { tags: { a: 'b' }, accounts: 'allowed' } }, ['111111111111', '333333333333']);
    expect(req.selector).toMatchObject({ kind: 'tags', resourceType: 'rds:db', accounts: ['111111111111', '333333333333'], regions: [] });
    expect(refusal(() => parseFleetRequest('b', fleet, { targets: { tags: { a: 'b' }, accounts: 'allowed' } }, []))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'targets.accounts',
    });
  });

  it('takes an explicit list of ARNs or ids, as a list or under resources', () => {
    expect(parseFleetRequest('b', fleet, { targets: ['arn:aws:rds:us-east-1:111111111111:db:a', 'b-db'] }, []).selector).toEqual({
      kind: 'list',
      resourceType: 'rds:db',
      resources: ['arn:aws:rds:us-east-1:111111111111:db:a', 'b-db'],
      accounts: null,
      regions: null,
    });
    expect(parseFleetRequest('b', fleet, { targets: { resources: ['x'], regions: ['eu-west-1'] } }, []).selector).toMatchObject({
      kind: 'list',
      regions: ['eu-west-1'],
    });
  });

  it('refuses a runbook without fleet:, naming it', () => {
    expect(refusal(() => parseFleetRequest('rds-manual-snapshot', undefined, { targets: ['x'] }, []))).toMatchObject({
      code: 'FLEET_NOT_SUPPORTED',
      field: 'targets',
    });
  });

  it('refuses a resource type the runbook does not bind, from the field or from an ARN', () => {
    expect(refusal(() => parseFleetRequest('b', fleet, { targets: { resourceType: 'ecs:service', tags: { a: 'b' } } }, []))).toMatchObject({
      code: 'FLEET_RESOURCE_TYPE_NOT_BOUND',
    });
    expect(refusal(() => parseFleetRequest('b', fleet, { targets: ['arn:aws:rds:us-east-1:111111111111:cluster:c'] }, []))).toMatchObject({
      code: 'FLEET_RESOURCE_TYPE_NOT_BOUND',
    });
    expect(refusal(() => parseFleetRequest('b', fleet, { targets: { resourceType: 'ec2:instance', tags: { a: 'b' } } }, []))).toMatchObject({
      code: 'FLEET_RESOURCE_TYPE_NOT_BOUND',
    });
  });

  it('refuses malformed targets with the field named', () => {
    const cases: Array<[unknown, string]> = [
      ['rds:db', 'targets'],
      [{ tags: {} }, 'targets.tags'],
      [{ resourceType: 'rds:db' }, 'targets.tags'],
      [{ tags: { a: 'b' }, accounts: ['12345'] }, 'targets.accounts'],
      [{ tags: { a: 'b' }, accounts: [] }, 'targets.accounts'],
      [{ tags: { a: 'b' }, regions: ['Europe'] }, 'targets.regions'],
      [{ tags: { a: 'b' }, zones: ['x'] }, 'targets.zones'],
      [{ tags: { a: 'b' }, resources: ['x'] }, 'targets.tags'],
      [{ tags: { a: 5 } }, 'targets.tags.a'],
      [['a', 'a'], 'targets.resources'],
      [[''], 'targets.resources'],
    ];
    for (const [targets, field] of cases) {
      expect({ targets, ...refusal(() => parseFleetRequest('b', fleet, { targets }, [])) }).toMatchObject({ targets, code: 'FLEET_TARGETS_INVALID', field });
    }
  });

  it('takes counts and percentages for rate control and refuses anything else', () => {
    expect(parseRate('maxConcurrency', 4, 1)).toEqual({ count: 4 });
    expect(parseRate('maxConcurrency', '4', 1)).toEqual({ count: 4 });
    expect(parseRate('maxConcurrency', '25%', 1)).toEqual({ percent: 25 });
    expect(parseRate('maxErrors', 0, 0)).toEqual({ count: 0 });
    expect(parseRate('maxErrors', '0%', 0)).toEqual({ percent: 0 });
    for (const [field, raw] of [
      ['maxConcurrency', 0],
      ['maxConcurrency', '0%'],
      ['maxConcurrency', 'lots'],
      ['maxErrors', -1],
      ['maxErrors', 2.5],
      ['maxErrors', '101%'],
      ['maxErrors', '5 %'],
      ['maxConcurrency', true],
      ['maxErrors', null],
    ] as const) {
      expect(refusal(() => parseFleetRequest('b', fleet, { targets: ['x'], [field]: raw }, []))).toMatchObject({ code: 'FLEET_RATE_INVALID', field });
    }
    expect(refusal(() => parseFleetRequest('b', fleet, { targets: ['x'], maxConcurrencyPerAccountRegion: '10%' }, []))).toMatchObject({
      code: 'FLEET_RATE_INVALID',
      field: 'maxConcurrencyPerAccountRegion',
    });
    expect(refusal(() => parseFleetRequest('b', fleet, { targets: ['x'], allowEmpty: 'yes' }, []))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'allowEmpty',
    });
  });

  it('turns percentages into counts: concurrency rounds up (at least 1), errors round down', () => {
    const limits = (c: unknown, e: unknown, n: number) =>
      fleetLimits({ maxConcurrency: parseRate('c', c, 1), maxErrors: parseRate('e', e, 0), maxConcurrencyPerAccountRegion: null }, n);
    expect(limits('25%', '10%', 30)).toEqual({ maxConcurrency: 8, maxErrors: 3, maxConcurrencyPerAccountRegion: null });
    expect(limits('1%', '10%', 5)).toEqual({ maxConcurrency: 1, maxErrors: 0, maxConcurrencyPerAccountRegion: null });
    expect(limits('100%', 2, 0)).toEqual({ maxConcurrency: 1, maxErrors: 2, maxConcurrencyPerAccountRegion: null });
  });

  it('reads resource ARNs of the types a fleet takes', () => {
    expect(parseArn('arn:aws:rds:eu-west-1:111111111111:db:orders-db')).toEqual({
      partition: 'aws',
      resourceType: 'rds:db',
      region: 'eu-west-1',
      account: '111111111111',
      id: 'orders-db',
    });
    expect(parseArn('arn:aws:ecs:us-east-1:222222222222:service/prod/api')).toEqual({
      partition: 'aws',
      resourceType: 'ecs:service',
      region: 'us-east-1',
      account: '222222222222',
      id: 'api',
      cluster: 'prod',
    });
    expect(parseArn('orders-db')).toBeNull();
  });

  it("binds a target into parameters; an absent role (home account) leaves roleArn out; bound parameters are not the caller's", () => {
    const t = {
      index: 0,
      arn: 'arn:aws:rds:eu-west-1:111111111111:db:a',
      id: 'a',
      resourceType: 'rds:db' as const,
      account: '111111111111',
      region: 'eu-west-1',
      roleArn: null,
      tags: {},
    };
    expect(bindTarget(fleet, { rpoTargetMinutes: 30 }, t)).toEqual({ rpoTargetMinutes: 30, dbInstanceIdentifier: 'a', region: 'eu-west-1' });
    expect(bindTarget(fleet, {}, { ...t, roleArn: 'arn:aws:iam::111111111111:role/runbookd' })).toMatchObject({
      roleArn: 'arn:aws:iam::111111111111:role/runbookd',
    });
    // A tag value is data, never an expression.
    const tagged = bindTarget(
      { resourceTypes: ['rds:db'], bind: { environment: '${{ target.tags.environment }}' } },
      {},
      { ...t, tags: { environment: '${{ params.x }}' } },
    );
    expect(tagged).toEqual({ environment: '${{ params.x }}' });
    expect(refusal(() => checkCommonParameters('b', fleet, { dbInstanceIdentifier: 'x' }))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'parameters.dbInstanceIdentifier',
    });
  });
});
