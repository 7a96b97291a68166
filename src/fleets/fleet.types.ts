import type { FleetResourceType } from '../model/runbook.types';


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
