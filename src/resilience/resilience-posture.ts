import type { ConfigFact, ResiliencePolicy, ResilienceTier } from './resilience-policy.types';

/**
 * The posture arithmetic: what AWS says now (recovery points, configuration) and what runs
 * recorded (restores, failovers, PITR drills), held against a tier. Pure: no AWS, no database,
 * no clock but `now`.
 */

export const RESOURCE_TYPES = ['rds:db', 'rds:cluster', 'dynamodb:table'] as const;
export type ResilienceResourceType = (typeof RESOURCE_TYPES)[number];

export const VERDICTS = ['breached', 'stale', 'no-evidence', 'met'] as const;
/** Worst first: a resource's verdict is its worst objective's. */
export type Verdict = (typeof VERDICTS)[number];

export const OBJECTIVES = [
  'rpo',
  'restore-verified',
  'failover-tested',
  'pitr-drill',
  'backup-retention',
  'config:multiAz',
  'config:pitr',
  'config:encryption',
  'config:deletionProtection',
  'config:crossRegionCopy',
] as const;
export type ObjectiveId = (typeof OBJECTIVES)[number];

/** What AWS reports about one resource now. null: AWS did not say (or it does not apply). */
export interface ResourceFacts {
  multiAz: boolean | null;
  pitr: boolean | null;
  /** Seconds from the earliest to the latest restorable time, where AWS states both. */
  pitrWindowSeconds: number | null;
  encryption: boolean | null;
  deletionProtection: boolean | null;
  backupRetentionDays: number | null;
  crossRegionCopy: boolean | null;
}

export interface RecoveryPoint {
  at: string;
  /** Where the point was read: latest restorable time, a snapshot (its id), a DynamoDB PITR window, a backup. */
  source: string;
}

export interface EstateResource {
  arn: string;
  account: string;
  region: string;
  type: ResilienceResourceType;
  id: string;
  tags: Record<string, string>;
  facts: ResourceFacts;
  newestRecoveryPoint: RecoveryPoint | null;
}

export type EvidenceKind = 'restore' | 'failover' | 'pitr';

/** The newest ended run of one kind for one resource. */
export interface RunEvidence {
  kind: EvidenceKind;
  arn: string;
  runId: string;
  runbookId: string;
  state: 'succeeded' | 'failed';
  endedAt: string;
  /** Restore time or switch time in seconds, as the run measured it; null when it never got that far. */
  measuredSeconds: number | null;
}

export interface ObjectiveResult {
  objective: ObjectiveId;
  target: number | boolean;
  measured: number | boolean | null;
  unit: 's' | 'days' | '';
  verdict: Verdict;
  evidenceRunId: string | null;
  /** When the evidence was made: the run's end, or the recovery point's time. */
  evidenceAt: string | null;
  detail: string;
}

export interface ResourcePosture {
  arn: string;
  account: string;
  region: string;
  type: ResilienceResourceType;
  id: string;
  tier: string | null;
  /** How the tier was chosen (the rule's path in the policy), or why there is none. */
  tierSource: string;
  verdict: Verdict | 'untiered';
  facts: ResourceFacts;
  newestRecoveryPoint: RecoveryPoint | null;
  objectives: ObjectiveResult[];
}

/** The tier a resource is in: an explicit ARN beats a tag rule beats the tier tag beats an account. */
export function assignTier(policy: ResiliencePolicy | null, r: Pick<EstateResource, 'arn' | 'account' | 'tags'>): { tier: string | null; source: string } {
  if (!policy) return { tier: null, source: 'no resilience policy (RUNBOOKD_RESILIENCE_POLICY) is configured' };
  for (const a of policy.assignments) if (a.kind === 'resources' && a.resources.includes(r.arn)) return { tier: a.tier, source: a.path };
  for (const a of policy.assignments) {
    if (a.kind === 'tags' && Object.entries(a.tags).every(([k, v]) => r.tags[k] === v)) return { tier: a.tier, source: a.path };
  }
  if (policy.tierTag && r.tags[policy.tierTag] !== undefined) {
    const value = r.tags[policy.tierTag];
    if (Object.prototype.hasOwnProperty.call(policy.tiers, value)) return { tier: value, source: `tierTag ${policy.tierTag}` };
    return { tier: null, source: `tag ${policy.tierTag}=${value} names no tier of the policy` };
  }
  for (const a of policy.assignments) if (a.kind === 'accounts' && a.accounts.includes(r.account)) return { tier: a.tier, source: a.path };
  return { tier: null, source: 'matched by no assignment of the policy' };
}

export function postureOf(policy: ResiliencePolicy | null, r: EstateResource, evidence: ReadonlyMap<string, RunEvidence>, now: Date): ResourcePosture {
  const { tier, source } = assignTier(policy, r);
  const base = {
    arn: r.arn,
    account: r.account,
    region: r.region,
    type: r.type,
    id: r.id,
    tier,
    tierSource: source,
    facts: r.facts,
    newestRecoveryPoint: r.newestRecoveryPoint,
  };
  if (!tier || !policy) return { ...base, verdict: 'untiered', objectives: [] };
  const objectives = objectivesFor(policy.tiers[tier], r, evidence, now);
  return { ...base, verdict: worst(objectives.map((o) => o.verdict)), objectives };
}

export function evidenceKey(kind: EvidenceKind, arn: string): string {
  return `${kind}\u0000${arn}`;
}

function objectivesFor(t: ResilienceTier, r: EstateResource, evidence: ReadonlyMap<string, RunEvidence>, now: Date): ObjectiveResult[] {
  const out: ObjectiveResult[] = [rpo(t, r, now)];
  out.push(fromRun('restore-verified', 'restore', t.rtoSeconds, t.restoreVerifiedWithinSeconds, r, evidence, now));
  // A DynamoDB table has no standby to fail over to: the objective does not apply to it.
  if (t.failoverTestedWithinSeconds !== null && r.type !== 'dynamodb:table') {
    out.push(fromRun('failover-tested', 'failover', t.rtoSeconds, t.failoverTestedWithinSeconds, r, evidence, now));
  }
  if (t.pitrDrillWithinSeconds !== null) out.push(fromRun('pitr-drill', 'pitr', t.rtoSeconds, t.pitrDrillWithinSeconds, r, evidence, now));
  if (t.minBackupRetentionDays !== null) {
    const measured = r.facts.backupRetentionDays;
    out.push({
      objective: 'backup-retention',
      target: t.minBackupRetentionDays,
      measured,
      unit: 'days',
      evidenceRunId: null,
      evidenceAt: now.toISOString(),
      verdict: measured === null ? 'no-evidence' : measured >= t.minBackupRetentionDays ? 'met' : 'breached',
      detail:
        measured === null ? 'AWS states no backup retention for this resource' : `backups kept ${measured} day(s), at least ${t.minBackupRetentionDays} asked`,
    });
  }
  for (const fact of t.require) out.push(configFact(fact, r, now));
  return out;
}

function rpo(t: ResilienceTier, r: EstateResource, now: Date): ObjectiveResult {
  const p = r.newestRecoveryPoint;
  if (!p) {
    return {
      objective: 'rpo',
      target: t.rpoSeconds,
      measured: null,
      unit: 's',
      verdict: 'breached',
      evidenceRunId: null,
      evidenceAt: null,
      detail: 'no recovery point at all: no snapshot, no restorable time, no backup',
    };
  }
  const age = Math.max(0, Math.round((now.getTime() - Date.parse(p.at)) / 1000));
  return {
    objective: 'rpo',
    target: t.rpoSeconds,
    measured: age,
    unit: 's',
    verdict: age <= t.rpoSeconds ? 'met' : 'breached',
    evidenceRunId: null,
    evidenceAt: p.at,
    detail: `newest recovery point (${p.source}) is ${humanSeconds(age)} old, at most ${humanSeconds(t.rpoSeconds)} asked`,
  };
}

function fromRun(
  objective: ObjectiveId,
  kind: EvidenceKind,
  target: number,
  within: number | null,
  r: EstateResource,
  evidence: ReadonlyMap<string, RunEvidence>,
  now: Date,
): ObjectiveResult {
  const what = { restore: 'verified restore', failover: 'failover test', pitr: 'point-in-time restore drill' }[kind];
  const ev = evidence.get(evidenceKey(kind, r.arn));
  if (!ev) {
    return {
      objective,
      target,
      measured: null,
      unit: 's',
      verdict: 'no-evidence',
      evidenceRunId: null,
      evidenceAt: null,
      detail: `no ${what} was ever recorded for this resource`,
    };
  }
  const base = { objective, target, measured: ev.measuredSeconds, unit: 's' as const, evidenceRunId: ev.runId, evidenceAt: ev.endedAt };
  const age = Math.max(0, Math.round((now.getTime() - Date.parse(ev.endedAt)) / 1000));
  if (within !== null && age > within) {
    return {
      ...base,
      verdict: 'stale',
      detail: `the last ${what} (run ${ev.runId}) ended ${humanSeconds(age)} ago, more than the ${humanSeconds(within)} the tier allows`,
    };
  }
  if (ev.state === 'failed') return { ...base, verdict: 'breached', detail: `the last ${what} (run ${ev.runId}) failed` };
  if (ev.measuredSeconds === null) return { ...base, verdict: 'breached', detail: `the last ${what} (run ${ev.runId}) measured no time` };
  const met = ev.measuredSeconds <= target;
  return {
    ...base,
    verdict: met ? 'met' : 'breached',
    detail: `measured ${humanSeconds(ev.measuredSeconds)} in run ${ev.runId}, at most ${humanSeconds(target)} asked`,
  };
}

const FACT_WORDS: Record<ConfigFact, string> = {
  multiAz: 'Multi-AZ',
  pitr: 'point-in-time recovery',
  encryption: 'encryption at rest',
  deletionProtection: 'deletion protection',
  crossRegionCopy: 'a copy in another region',
};

function configFact(fact: ConfigFact, r: EstateResource, now: Date): ObjectiveResult {
  const measured = r.facts[fact];
  const word = FACT_WORDS[fact];
  return {
    objective: `config:${fact}`,
    target: true,
    measured,
    unit: '',
    evidenceRunId: null,
    evidenceAt: now.toISOString(),
    verdict: measured === null ? 'no-evidence' : measured ? 'met' : 'breached',
    detail: measured === null ? `AWS states nothing about ${word} for a ${r.type}` : measured ? `${word}: on` : `${word}: off, the tier requires it`,
  };
}

export function worst(verdicts: readonly Verdict[]): Verdict {
  for (const v of VERDICTS) if (verdicts.includes(v)) return v;
  return 'met';
}

/** Worst first, then by account, region and ARN; untiered last. */
export function postureOrder(a: ResourcePosture, b: ResourcePosture): number {
  const rank = (p: ResourcePosture) => (p.verdict === 'untiered' ? VERDICTS.length : VERDICTS.indexOf(p.verdict));
  return rank(a) - rank(b) || cmp(a.account, b.account) || cmp(a.region, b.region) || cmp(a.arn, b.arn);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function humanSeconds(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} d`;
}
