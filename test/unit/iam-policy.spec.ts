import * as path from 'node:path';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { actionsOf, iamPolicyFor } from '../../src/runbooks/iam-policy';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { STEP_CLASSES } from '../../src/steps/step-catalog';
import { main } from '../../scripts/iam-policy';

const ROOT = path.resolve(__dirname, '..', '..');
const types = STEP_CLASSES.map((C) => new (C as unknown as new () => StepType)());
const registry = new StepRegistry(types);
const shipped = loadRunbooks(path.join(ROOT, 'runbooks'), registry);
const def = (id: string) => shipped.find((l) => l.definition.id === id)!.definition;

describe('least-privilege IAM policy per runbook', () => {
  it('every step type declares its IAM actions (fixed ones in the type, generic ones from the definition)', () => {
    const undeclared = types.filter((t) => !t.iamNeeds && !t.iamActions).map((t) => t.uses);
    expect(undeclared).toEqual([]);
  });

  it('builds a policy for every shipped runbook; actions are service:Api names', () => {
    for (const l of shipped) {
      const doc = iamPolicyFor([l.definition], registry);
      expect(doc.Version).toBe('2012-10-17');
      for (const a of actionsOf(doc)) expect(a).toMatch(/^(rds|ecs|cloudwatch|backup|sns|elasticloadbalancing|sts|iam):[A-Z][A-Za-z]+$/);
    }
  });

  it('adds what the engine calls for the runbook: guard alarms, roles it assumes', () => {
    const failover = actionsOf(iamPolicyFor([def('failover-test')], registry));
    expect(failover).toEqual(
      expect.arrayContaining(['rds:FailoverDBCluster', 'rds:RebootDBInstance', 'rds:DescribeEvents', 'cloudwatch:DescribeAlarms', 'sts:AssumeRole']),
    );
    expect(failover).not.toContain('ecs:UpdateService');
  });

  it("names a service's actions by its IAM prefix, which is not always the name runbooks use (elbv2 → elasticloadbalancing)", () => {
    expect(actionsOf(iamPolicyFor([def('ecs-deploy-with-target-health')], registry))).toEqual([
      'cloudwatch:DescribeAlarms',
      'ecs:DescribeServices',
      'ecs:UpdateService',
      'elasticloadbalancing:DescribeTargetHealth',
    ]);
  });

  it('scopes an aws.call to the ARNs its input names literally, and keeps * otherwise', () => {
    const doc = iamPolicyFor(
      [
        {
          id: 'x',
          title: 'x',
          parameters: { type: 'object', properties: { id: { type: 'string' } } },
          guards: {},
          triggers: [],
          cleanup: [],
          steps: [
            {
              id: 'a',
              uses: 'aws.call',
              mutates: true,
              with: { service: 'sns', api: 'Publish', input: { TopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops', Message: 'hi' }, repeatable: true },
            },
            { id: 'b', uses: 'aws.call', with: { service: 'rds', api: 'DescribeDBInstances', input: { DBInstanceIdentifier: '${{ params.id }}' } } },
          ],
        },
      ],
      registry,
    );
    expect(doc.Statement).toEqual([
      { Sid: 'RunbookdActions', Effect: 'Allow', Action: ['rds:DescribeDBInstances'], Resource: '*' },
      { Sid: expect.any(String), Effect: 'Allow', Action: ['sns:Publish'], Resource: 'arn:aws:sns:eu-west-1:123456789012:ops' },
    ]);
  });

  it("scripts/iam-policy.ts prints one runbook's policy, all of them, and refuses an unknown id", () => {
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(main(['rds-manual-snapshot'])).toBe(0);
      expect(actionsOf(JSON.parse(out.join('')))).toEqual(['rds:CreateDBSnapshot', 'rds:DescribeDBInstances', 'rds:DescribeDBSnapshots']);
      out.length = 0;
      expect(main([])).toBe(0);
      expect(actionsOf(JSON.parse(out.join('')))).toEqual(expect.arrayContaining(['rds:CreateDBSnapshot', 'ecs:UpdateService', 'backup:StartRestoreJob']));
      expect(main(['nope'])).toBe(2);
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
  });
});
