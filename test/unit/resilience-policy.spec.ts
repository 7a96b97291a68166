import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/app.config';
import { parsePolicyDuration, parseResiliencePolicy, ResiliencePolicyFileError } from '../../src/resilience/resilience-policy-file';
import { ResiliencePostureService } from '../../src/fleets/resilience-posture.service';

const GOOD = `
version: 1
scope: { accounts: ["111111111111", "222222222222"], regions: [us-east-1, eu-west-1] }
tierTag: runbookd:tier
tiers:
  critical:
    rpo: 15m
    rto: 60m
    restoreVerifiedWithin: 31d
    failoverTestedWithin: 92d
    pitrDrillWithin: 92d
    require: [pitr, crossRegionCopy, encryption, deletionProtection]
    minBackupRetention: 7d
  standard: { rpo: 24h, rto: 4h, restoreVerifiedWithin: 92d }
assignments:
  - { tier: standard, accounts: ["222222222222"] }
  - { tier: critical, resources: ["arn:aws:rds:us-east-1:222222222222:db:ledger"] }
  - { tier: standard, tags: { team: analytics, environment: staging } }
`;

function problems(text: string): string[] {
  try {
    parseResiliencePolicy(text, 'resilience.yaml');
  } catch (err) {
    if (err instanceof ResiliencePolicyFileError) return err.problems;
    throw err;
  }
  throw new Error('the policy was accepted');
}

describe('resilience policy file', () => {
  it('reads tiers, durations in seconds, the tier tag, assignments and scope', () => {
    const p = parseResiliencePolicy(GOOD, 'resilience.yaml');
    expect(p.tiers.critical).toEqual({
      name: 'critical',
      rpoSeconds: 900,
      rtoSeconds: 3600,
      restoreVerifiedWithinSeconds: 31 * 86400,
      failoverTestedWithinSeconds: 92 * 86400,
      pitrDrillWithinSeconds: 92 * 86400,
      require: ['pitr', 'crossRegionCopy', 'encryption', 'deletionProtection'],
      minBackupRetentionDays: 7,
    });
    expect(p.tiers.standard).toMatchObject({ rpoSeconds: 86400, rtoSeconds: 14400, failoverTestedWithinSeconds: null, require: [] });
    expect(p.tierTag).toBe('runbookd:tier');
    expect(p.scope).toEqual({ accounts: ['111111111111', '222222222222'], regions: ['us-east-1', 'eu-west-1'] });
    expect(p.assignments.map((a) => a.kind)).toEqual(['accounts', 'resources', 'tags']);
  });

  it('parses durations with units only, largest first', () => {
    expect(parsePolicyDuration('1h30m')).toBe(5400);
    expect(parsePolicyDuration('2w')).toBe(14 * 86400);
    for (const bad of ['15', '15 min', '1.5h', '30m1h', '0m', '', '-5m', 15]) expect(parsePolicyDuration(bad)).toBeUndefined();
  });

  it('refuses an unknown tier field with file, path and reason', () => {
    expect(problems(GOOD.replace('rpo: 15m', 'rpo: 15m\n    rtoo: 1h'))).toEqual([
      expect.stringMatching(/^resilience\.yaml: tiers\.critical\.rtoo: unknown field \(known: rpo, rto, /),
    ]);
  });

  it('refuses a bad duration, naming it', () => {
    expect(problems(GOOD.replace('rpo: 15m', 'rpo: 15 minutes'))).toEqual([
      'resilience.yaml: tiers.critical.rpo: "15 minutes" is not a duration (a number with a unit, largest first: 90s, 15m, 1h30m, 31d, 2w)',
    ]);
    expect(problems(GOOD.replace('rto: 60m', 'rto: 60'))[0]).toMatch(/^resilience\.yaml: tiers\.critical\.rto: "60" is not a duration/);
  });

  it('refuses overlapping assignments: two tiers for one account, one ARN, or tag sets a resource can carry both of', () => {
    expect(problems(GOOD + '  - { tier: critical, accounts: ["222222222222"] }\n')).toEqual([
      'resilience.yaml: assignments[3]: overlapping assignment: 222222222222 is put in tier critical here and in tier standard by assignments[0]',
    ]);
    expect(problems(GOOD + '  - { tier: standard, resources: ["arn:aws:rds:us-east-1:222222222222:db:ledger"] }\n')[0]).toMatch(
      /^resilience\.yaml: assignments\[3\]: overlapping assignment: arn:aws:rds:us-east-1:222222222222:db:ledger is put in tier standard here and in tier critical by assignments\[1\]/,
    );
    // team=analytics + environment=staging vs team=analytics: a resource with all three tags matches both.
    expect(problems(GOOD + '  - { tier: critical, tags: { team: analytics } }\n')[0]).toMatch(
      /^resilience\.yaml: assignments\[3\]: overlapping assignment: a resource tagged .*team=analytics/,
    );
    // Disjoint: same key, different values.
    expect(() => parseResiliencePolicy(GOOD + '  - { tier: critical, tags: { team: analytics, environment: production } }\n', 'r.yaml')).not.toThrow();
  });

  it("refuses a tag rule that gives the tier tag's value another tier", () => {
    const text = GOOD.replace(
      '  - { tier: standard, tags: { team: analytics, environment: staging } }\n',
      '  - { tier: standard, tags: { "runbookd:tier": critical } }\n',
    );
    expect(problems(text)).toEqual([
      'resilience.yaml: assignments[2]: overlapping assignment: a resource tagged runbookd:tier=critical is in tier critical by tierTag, and this rule puts it in tier standard',
    ]);
  });

  it('refuses unknown facts, unknown tiers in assignments, and a rule matching by two kinds', () => {
    const p = problems(
      GOOD.replace('require: [pitr,', 'require: [backups, pitr,') +
        '  - { tier: gold, accounts: ["333333333333"] }\n  - { tier: standard, accounts: ["333333333333"], tags: { a: b } }\n',
    );
    expect(p).toEqual([
      'resilience.yaml: tiers.critical.require[0]: "backups" is not a configuration fact (multiAz, pitr, encryption, deletionProtection, crossRegionCopy)',
      'resilience.yaml: assignments[3].tier: must name a tier of tiers (critical, standard)',
      'resilience.yaml: assignments[4]: give exactly one of tags, accounts or resources (a rule matching by two would make its precedence a guess)',
    ]);
  });

  it('is refused at boot: the service will not start with a bad file, naming file, path and reason', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-resilience-'));
    const file = path.join(dir, 'resilience.yaml');
    writeFileSync(file, GOOD.replace('rpo: 15m', 'rpo: soon'));
    const config = loadConfig({ RUNBOOKD_RESILIENCE_POLICY: file });
    expect(config.resilience.policyFile).toBe(file);
    const boot = () => new ResiliencePostureService(config, ...([null, null, null, null, null, null] as unknown as [never, never, never, never, never, never]));
    expect(boot).toThrow(ConfigError);
    expect(boot).toThrow(`RUNBOOKD_RESILIENCE_POLICY ${file}: tiers.critical.rpo: "soon" is not a duration`);
    writeFileSync(file, GOOD);
    expect(
      new ResiliencePostureService(config, ...([null, null, null, null, null, null] as unknown as [never, never, never, never, never, never])).policy?.tiers
        .critical.rpoSeconds,
    ).toBe(900);
  });
});
