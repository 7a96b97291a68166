import type { FleetApprovalTarget, FleetResourceType } from './runbook.types';

/**
 * A fleet run: one parent run that acts on a fixed list of targets, one child run per target.
 * These are the shapes the request, the runbook's `fleet:` section and the recorded list share.
 */

/** A count of targets, or a percentage of them. */
export type FleetRate = { count: number } | { percent: number };

/** The request's targets, checked, before resolution. */
export type TargetSelector =
  | { kind: 'tags'; resourceType: FleetResourceType; tags: Record<string, string[]>; accounts: string[]; regions: string[] }
  | { kind: 'list'; resourceType: FleetResourceType; resources: string[]; accounts: string[] | null; regions: string[] | null };

/** A fleet request as checked (`targets`, rate control), before the targets are resolved. */
export interface FleetRequest {
  selector: TargetSelector;
  maxConcurrency: FleetRate;
  maxErrors: FleetRate;
  /** At most this many targets of one account and region run at once (its API quota); null: no limit beyond maxConcurrency. */
  maxConcurrencyPerAccountRegion: number | null;
  allowEmpty: boolean;
}

/** One resolved target, as recorded with the fleet run and bound into its child's parameters. */
export interface FleetTarget {
  /** Position in the recorded list; the child's dedupe key is made from it. */
  index: number;
  arn: string;
  /** The resource's name: a DB instance or cluster identifier, an ECS service name. */
  id: string;
  resourceType: FleetResourceType;
  account: string;
  region: string;
  /** The role assumed in the target's account; null in the home account (the default credentials). */
  roleArn: string | null;
  tags: Record<string, string>;
  /** ECS services: the cluster the service runs in. */
  cluster?: string;
}

/** Rate control as numbers, fixed once the list is known. */
export interface FleetLimits {
  maxConcurrency: number;
  maxErrors: number;
  maxConcurrencyPerAccountRegion: number | null;
}

/** What a fleet's parent records before it starts (the `targets` step's output): the list, the binding, the limits. */
export interface FleetPlan extends Record<string, unknown> {
  runbookId: string;
  /** The runbook's `fleet.bind` as it was when the fleet was accepted: every child binds the same way. */
  bind: Record<string, unknown>;
  targets: FleetTarget[];
  limits: FleetLimits;
  homeAccount: string;
  /** The request as checked: tags, accounts, regions, or the explicit list. */
  selector: TargetSelector;
  /** Where the tagging API was asked, and how much it found there. */
  searched: Array<{ account: string; region: string; found: number }>;
  /** Present when the fleet asks one approval: every target with its child's plan hash (what the gate shows and binds to). */
  approval?: { targets: FleetApprovalTarget[] };
}

/** How one target ended: a child run's outcome, `skipped` (never started), or `refused` (its child could not be accepted). */
export type TargetOutcome = 'succeeded' | 'failed' | 'aborted' | 'cancelled' | 'rejected' | 'skipped' | 'refused';

/** One row of the fleet report: a target, how it ended, and its child's key figures. */
export interface FleetTargetRow {
  index: number;
  arn: string;
  id: string;
  account: string;
  region: string;
  outcome: TargetOutcome;
  childRunId: string | null;
  durationSeconds: number | null;
  error: { code: string; message: string } | null;
  figures: Array<{ id: string; label: string; value: unknown; unit?: string }>;
  /** Dry runs: the changes the child's plan would make. */
  plannedCalls: number | null;
}

/** The fleet section of a parent's report: every target worst first, and the counts. */
export interface FleetSection {
  runbookId: string;
  dryRun: boolean;
  limits: FleetLimits;
  counts: { total: number; passed: number; failed: number; skipped: number };
  /** "28 passed, 2 failed, 0 skipped". */
  summary: string;
  /** True when more targets failed than maxErrors allows (the fleet stopped starting targets). */
  stopped: boolean;
  targets: FleetTargetRow[];
}
