import { decideAccess, needsTargetFacts } from '../../src/policy/policy-access';
import { approvalRequirement } from '../../src/policy/approval-rules';
import { defaultPolicy } from '../../src/policy/default-policy';
import { parsePolicy, PolicyFileError } from '../../src/policy/policy-file';
import type { TargetFacts } from '../../src/aws/target-facts';

const problemsOf = (text: string): string[] => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (err) {
    if (err instanceof PolicyFileError) return err.problems;
    throw err;
  }
  return [];
};

const cluster = (tags: Record<string, string>, account = '123456789012'): TargetFacts => ({
  type: 'rds:cluster',
  identifier: 'orders',
  arn: `arn:aws:rds:eu-west-1:${account}:cluster:orders`,
  account,
  region: 'eu-west-1',
  tags,
});

describe('policy file', () => {
  it('without a file: the three roles as groups, their grants, and the default approval rules', () => {
    const p = defaultPolicy();
    expect(Object.keys(p.groups)).toEqual(['viewer', 'operator', 'admin']);
    expect(p.grants.map((g) => [g.who, g.may])).toEqual([
      [{ group: 'viewer' }, ['view']],
      [{ group: 'operator' }, ['view', 'run', 'approve', 'cancel']],
      [{ group: 'admin' }, ['view', 'run', 'approve', 'cancel', 'admin']],
    ]);
    expect(p.approvalRules.map((r) => r.id)).toEqual(['production-environment-tag', 'production-account', 'critical-tier-tag']);
  });

  it('reads accounts, groups, grants and rules; sections left out keep their defaults', () => {
    const p = parsePolicy(
      [
        'version: 1',
        'accounts: { production: [222222222222, "333333333333"] }',
        'groups: { sre: { keys: [otto], subjects: [sub-1], oidcGroups: [sre-team] } }',
        'grants:',
        '  - { group: sre, may: [view, run], runbooks: ["failover-*"], regions: ["eu-*"] }',
        '  - { key: ci, may: [view] }',
      ].join('\n'),
      'policy.yaml',
    );
    expect(p.productionAccounts).toEqual(['222222222222', '333333333333']);
    expect(p.groups.sre).toEqual({ keys: ['otto'], subjects: ['sub-1'], oidcGroups: ['sre-team'] });
    expect(Object.keys(p.groups)).toEqual(['viewer', 'operator', 'admin', 'sre']);
    expect(p.grants[0]).toEqual({
      who: { group: 'sre' },
      may: ['view', 'run'],
      runbooks: ['failover-*'],
      accounts: ['*'],
      regions: ['eu-*'],
      environments: ['*'],
    });
    expect(p.approvalRules).toEqual(defaultPolicy().approvalRules);
  });

  it('refuses every problem at once, each naming the file, the path and why', () => {
    expect(
      problemsOf(
        [
          'versoin: 1',
          'accounts: { production: ["12345"] }',
          'grants:',
          '  - { group: nobody, may: [view, fly] }',
          '  - { key: ci, group: sre, may: [view] }',
          'approvals:',
          '  - { id: a, when: { risk: [extreme] }, minApprovals: 0 }',
          '  - { id: a, when: {} }',
        ].join('\n'),
      ),
    ).toEqual([
      'policy.yaml: versoin: unknown field (known: version, accounts, approvals, groups, grants, sso)',
      'policy.yaml: accounts.production[0]: "12345" is not a 12-digit account id',
      'policy.yaml: approvals[0].minApprovals: must be a whole number from 1 to 10',
      'policy.yaml: approvals[0].when.risk[0]: "extreme" is not a risk (low, medium, high)',
      'policy.yaml: approvals[1].id: "a" is used by an earlier rule',
      'policy.yaml: approvals[1].when: must be a mapping with at least one of account, tags, risk, runbooks',
      'policy.yaml: grants[0].group: unknown group "nobody" (groups: viewer, operator, admin)',
      'policy.yaml: grants[0].may[1]: "fly" is not an action (view, run, approve, cancel, admin)',
      'policy.yaml: grants[1]: name exactly one of group, key or subject',
    ]);
    expect(problemsOf('accounts: [1, 2')[0]).toMatch(/^policy\.yaml: \(yaml\): /);
    expect(problemsOf('approvals: [{ id: p, when: { account: production } }]')).toEqual([
      'policy.yaml: approvals[0].when.account: names the production accounts, but accounts.production lists none',
    ]);
  });
});

describe('approval rules', () => {
  const policy = { ...defaultPolicy(), productionAccounts: ['222222222222'] };
  const need = (risk: 'low' | 'medium' | 'high', targets: TargetFacts[]) => approvalRequirement(policy, { runbookId: 'failover-test', risk, targets });

  it("a production tag on a high-risk runbook's target asks for one approval, naming the rule and the fact", () => {
    expect(need('high', [cluster({ environment: 'production' })])).toEqual({
      minApprovals: 1,
      reasons: [
        {
          rule: 'production-environment-tag',
          minApprovals: 1,
          because: 'cluster orders is tagged environment=production',
          target: 'arn:aws:rds:eu-west-1:123456789012:cluster:orders',
        },
      ],
    });
    // The same promise however the tag is spelt.
    expect(need('high', [cluster({ Environment: 'Production' })]).minApprovals).toBe(1);
  });

  it('a production account asks whatever the tags; the critical tier asks for two; the most demanding rule wins', () => {
    expect(need('high', [cluster({}, '222222222222')]).reasons.map((r) => r.rule)).toEqual(['production-account']);
    const both = need('high', [cluster({ environment: 'prod', 'runbookd:tier': 'critical' }, '222222222222')]);
    expect(both.minApprovals).toBe(2);
    expect(both.reasons.map((r) => r.rule)).toEqual(['production-environment-tag', 'production-account', 'critical-tier-tag']);
  });

  it('asks nothing for a staging target, or for a low- or medium-risk runbook (an alarm rollback is not held up)', () => {
    expect(need('high', [cluster({ environment: 'staging' })])).toEqual({ minApprovals: 0, reasons: [] });
    expect(need('medium', [cluster({ environment: 'production' }, '222222222222')])).toEqual({ minApprovals: 0, reasons: [] });
    expect(need('high', [])).toEqual({ minApprovals: 0, reasons: [] });
  });
});

describe('access: who may do what, on which runbooks, where', () => {
  const p = parsePolicy(
    `
groups:
  dba: { keys: [dana], oidcGroups: [db-admins] }
  oncall-eu: { subjects: [sub-eve] }
grants:
  - { group: viewer, may: [view] }
  - { group: operator, may: [view, run, approve, cancel] }
  - { group: admin, may: [view, run, approve, cancel, admin] }
  - { group: dba, may: [view, run, cancel], runbooks: ["failover-*", point-in-time-restore], environments: [staging] }
  - { group: oncall-eu, may: [run], runbooks: ["*"], accounts: ["111111111111"], regions: ["eu-*"] }
  - { key: release-bot, may: [run], runbooks: [canary-rollback] }
`,
    'policy.yaml',
  );
  const dana = { name: 'dana', via: 'key' as const, groups: ['dba'] };
  const eve = { name: 'eve@example.com', via: 'oidc' as const, subject: 'sub-eve', groups: ['oncall-eu'] };
  const bot = { name: 'release-bot', via: 'key' as const, groups: ['viewer'] };

  it('refuses an action nobody granted, naming who, their groups and the policy', () => {
    expect(decideAccess(p, dana, 'approve')).toEqual({ allowed: false, why: 'dana (groups: dba) has no grant of "approve" in the policy (policy.yaml)' });
    expect(decideAccess(p, dana, 'run')).toEqual({ allowed: true });
  });

  it('scopes by runbook id or glob', () => {
    expect(decideAccess(p, dana, 'run', 'failover-test', [cluster({ environment: 'staging' })]).allowed).toBe(true);
    expect(decideAccess(p, dana, 'run', 'canary-rollback', [cluster({ environment: 'staging' })])).toEqual({
      allowed: false,
      why: 'dana (groups: dba) may "run" only on runbooks failover-*, point-in-time-restore, not canary-rollback',
    });
  });

  it("decides the environment from the target's own tag, never from anything typed", () => {
    expect(decideAccess(p, dana, 'run', 'failover-test', [cluster({ Environment: 'staging' })]).allowed).toBe(true);
    const prod = decideAccess(p, dana, 'run', 'failover-test', [cluster({ environment: 'production' })]);
    expect(prod).toEqual({
      allowed: false,
      why: 'dana (groups: dba) may not "run" on cluster orders (account 123456789012, region eu-west-1, environment production): no grant covers it',
    });
    expect(decideAccess(p, dana, 'run', 'failover-test', [cluster({})]).allowed).toBe(false);
    // One target outside the grant is enough to refuse.
    expect(decideAccess(p, dana, 'run', 'failover-test', [cluster({ environment: 'staging' }), cluster({ environment: 'production' })]).allowed).toBe(false);
  });

  it('a scoped grant cannot clear a run whose targets are not known', () => {
    expect(needsTargetFacts(p, dana, 'run', 'failover-test')).toBe(true);
    expect(decideAccess(p, dana, 'run', 'failover-test').allowed).toBe(false);
    expect(decideAccess(p, dana, 'run', 'failover-test', []).allowed).toBe(false);
  });

  it('scopes by account and region, for an OIDC subject', () => {
    expect(decideAccess(p, eve, 'run', 'anything', [cluster({}, '111111111111')]).allowed).toBe(true);
    expect(decideAccess(p, eve, 'run', 'anything', [cluster({}, '222222222222')]).allowed).toBe(false);
    expect(decideAccess(p, eve, 'run', 'anything', [{ ...cluster({}, '111111111111'), region: 'us-east-1' }]).allowed).toBe(false);
    // A key with the same name as the subject's is not the subject.
    expect(decideAccess(p, { name: 'sub-eve', via: 'key', groups: [] }, 'run').allowed).toBe(false);
  });

  it('grants to a key by name, and only to a key', () => {
    expect(decideAccess(p, bot, 'run', 'canary-rollback').allowed).toBe(true);
    expect(needsTargetFacts(p, bot, 'run', 'canary-rollback')).toBe(false);
    expect(decideAccess(p, bot, 'run', 'failover-test').allowed).toBe(false);
    expect(decideAccess(p, { ...bot, via: 'oidc', subject: 'x' }, 'run').allowed).toBe(false);
  });

  it('refuses an unknown group or action in a grant, naming the field', () => {
    expect(problemsOf('grants: [{ group: nobody, may: [view] }]')).toEqual([
      'policy.yaml: grants[0].group: unknown group "nobody" (groups: viewer, operator, admin)',
    ]);
    expect(problemsOf('grants: [{ group: viewer, may: [destroy] }]')).toEqual([
      'policy.yaml: grants[0].may[0]: "destroy" is not an action (view, run, approve, cancel, admin)',
    ]);
    expect(problemsOf('grants: [{ who: x, may: [view] }]')).toEqual([
      'policy.yaml: grants[0].who: unknown field (known: group, key, subject, may, runbooks, accounts, regions, environments)',
      'policy.yaml: grants[0]: name exactly one of group, key or subject',
    ]);
  });
});
