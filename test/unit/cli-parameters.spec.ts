import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { buildParameters } from '../../src/cli/cli-parameters';
import { CliError } from '../../src/cli/cli.error';

const schemaOf = (runbook: string) =>
  (parse(readFileSync(path.join(__dirname, '..', '..', 'runbooks', `${runbook}.yaml`), 'utf8')) as { parameters: Record<string, any> }).parameters;

/** `-p key=value` is typed by the runbook's own parameter schema; a value that cannot be is refused with exit 64, naming the parameter. */
describe('CLI -p typing by the parameter schema', () => {
  const refused = async (pairs: string[], schema: Record<string, any>): Promise<CliError> => {
    const err = await buildParameters(pairs, undefined, schema).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(64);
    return err as CliError;
  };

  it("turns the shipped point-in-time restore's `const: true` and its enum into their values", async () => {
    const pitr = schemaOf('point-in-time-restore');
    await expect(
      buildParameters(['dbInstanceIdentifier=billing-postgres', 'useLatestRestorableTime=true', 'mode=recovery', 'rpoTargetMinutes=15'], undefined, pitr),
    ).resolves.toEqual({ dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, mode: 'recovery', rpoTargetMinutes: 15 });
    const notTrue = await refused(['useLatestRestorableTime=false'], pitr);
    expect(notTrue.message).toBe('-p useLatestRestorableTime=false: useLatestRestorableTime must be true');
    expect(notTrue.details).toEqual({ field: 'useLatestRestorableTime' });
    expect((await refused(['mode=dril'], pitr)).message).toBe('-p mode=dril: mode must be one of drill, recovery');
  });

  it('types booleans, numbers, integers, numeric enums, lists and JSON objects; strings stay as typed', async () => {
    const schema = {
      properties: {
        failback: { type: 'boolean' },
        seconds: { type: 'number' },
        count: { type: 'integer' },
        period: { enum: [300, 3600] },
        alarms: { type: 'array', items: { type: 'string' } },
        ports: { type: 'array', items: { type: 'integer' } },
        scope: { type: 'object' },
        name: { type: 'string' },
        maybe: { type: ['integer', 'null'] },
      },
    };
    await expect(
      buildParameters(
        [
          'failback=false',
          'seconds=0.5',
          'count=-3',
          'period=300',
          'alarms=a, b',
          'ports=80,443',
          'scope={"services":["x"]}',
          'name=0123',
          'maybe=null',
          'other=7',
        ],
        undefined,
        schema,
      ),
    ).resolves.toEqual({
      failback: false,
      seconds: 0.5,
      count: -3,
      period: 300,
      alarms: ['a', 'b'],
      ports: [80, 443],
      scope: { services: ['x'] },
      name: '0123',
      maybe: null,
      other: '7',
    });
    await expect(buildParameters(['alarms=["a","b"]', 'ports=[]', 'alarms=', 'maybe=4'], undefined, schema)).resolves.toEqual({
      alarms: [],
      ports: [],
      maybe: 4,
    });

    expect((await refused(['failback=yes'], schema)).message).toBe('-p failback=yes: failback must be true or false');
    expect((await refused(['seconds=soon'], schema)).message).toBe('-p seconds=soon: seconds must be a number');
    expect((await refused(['seconds='], schema)).message).toMatch(/seconds must be a number/);
    expect((await refused(['count=1.5'], schema)).message).toBe('-p count=1.5: count must be a whole number');
    expect((await refused(['period=301'], schema)).message).toBe('-p period=301: period must be one of 300, 3600');
    expect((await refused(['ports=80,http'], schema)).message).toMatch(/^-p ports=80,http: ports must be a list/);
    expect((await refused(['ports=[80'], schema)).message).toMatch(/ports must be a list/);
    expect((await refused(['scope={services}'], schema)).message).toBe('-p scope={services}: scope must be a JSON object ({…})');
    expect((await refused(['scope=[1]'], schema)).message).toMatch(/scope must be a JSON object/);
    expect((await refused(['maybe=x'], schema)).message).toBe('-p maybe=x: maybe must be a whole number or null');
  });

  it('puts -p over --params-file, and refuses a pair without "="', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-cli-params-'));
    try {
      const file = path.join(dir, 'p.json');
      writeFileSync(file, JSON.stringify({ failback: true, name: 'a' }));
      await expect(buildParameters(['failback=false'], file, { properties: { failback: { type: 'boolean' } } })).resolves.toEqual({
        failback: false,
        name: 'a',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await refused(['failback'], {})).message).toBe('-p failback: write it as key=value');
  });
});
