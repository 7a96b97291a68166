/**
 * What every resource a run creates carries, so it can be traced to its run and swept up once
 * abandoned: `runbookd:run-id`, `runbookd:runbook`, `runbookd:expires-at` (the run's expiry, ISO
 * 8601). One place, so every runbook's resources are found by the same tag query.
 */
export const RUN_ID_TAG = 'runbookd:run-id';
export const RUNBOOK_TAG = 'runbookd:runbook';
export const EXPIRES_AT_TAG = 'runbookd:expires-at';

export interface ResourceTag {
  Key: string;
  Value: string;
}

export interface TaggingContext {
  runId: string;
  runbookId: string;
  expiresAt: Date;
}

export function runResourceTags(ctx: TaggingContext): ResourceTag[] {
  return [
    { Key: RUN_ID_TAG, Value: ctx.runId },
    { Key: RUNBOOK_TAG, Value: ctx.runbookId },
    { Key: EXPIRES_AT_TAG, Value: ctx.expiresAt.toISOString() },
  ];
}

/** The tag set as a map (the shape AWS Backup and ECS take). */
export function runResourceTagMap(ctx: TaggingContext): Record<string, string> {
  return Object.fromEntries(runResourceTags(ctx).map((t) => [t.Key, t.Value]));
}

/** True when a resource's tags say this run made it. */
export function createdByRun(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined, runId: string): boolean {
  return (tags ?? []).some((t) => t.Key === RUN_ID_TAG && t.Value === runId);
}

/**
 * A resource name derived from the run id, so a create repeated after a crash finds the one
 * already made. Run ids are valid inside RDS identifiers (see `engine/run-id.ts`); the suffix
 * tells apart several resources of one run.
 */
export function runResourceName(runId: string, suffix?: string): string {
  return suffix ? `rbd-${runId}-${suffix}` : `rbd-${runId}`;
}
