/**
 * The resilience policy (RUNBOOKD_RESILIENCE_POLICY): tiers of recovery objectives and which
 * resources are in which tier. Durations are held in seconds.
 */

/** Configuration facts a tier may require of its resources, read from AWS at posture time. */
export const CONFIG_FACTS = ['multiAz', 'pitr', 'encryption', 'deletionProtection', 'crossRegionCopy'] as const;
export type ConfigFact = (typeof CONFIG_FACTS)[number];

export interface ResilienceTier {
  name: string;
  /** Newest recovery point at most this old. */
  rpoSeconds: number;
  /** A measured restore (and a failover's switch) within this. */
  rtoSeconds: number;
  /** Evidence freshness: the newest proving run must have ended within each window; null = not asked of this tier. */
  restoreVerifiedWithinSeconds: number | null;
  failoverTestedWithinSeconds: number | null;
  pitrDrillWithinSeconds: number | null;
  require: ConfigFact[];
  /** Backup retention at least this many days; null = not asked. */
  minBackupRetentionDays: number | null;
}

/** One assignment rule; `resources` beats `tags` beats `accounts` when rules of different kinds match. */
export type TierAssignment =
  | { kind: 'resources'; tier: string; resources: string[]; path: string }
  | { kind: 'tags'; tier: string; tags: Record<string, string>; path: string }
  | { kind: 'accounts'; tier: string; accounts: string[]; path: string };

export interface ResiliencePolicy {
  source: string;
  tiers: Record<string, ResilienceTier>;
  /** A tag whose value names the tier (`runbookd:tier: critical`); null = none. */
  tierTag: string | null;
  assignments: TierAssignment[];
  /** Where posture looks: accounts (empty = the home account) and regions (empty = AWS_REGION). */
  scope: { accounts: string[]; regions: string[] };
}
