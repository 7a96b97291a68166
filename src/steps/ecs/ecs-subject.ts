import { TARGET_PROPERTIES } from '../aws-target';

/** An ECS service, where runbooks name one. */
export interface EcsSubject {
  cluster: string;
  service: string;
  region?: string;
  roleArn?: string;
}

export const ecsSubjectProperties = {
  cluster: { type: 'string', minLength: 1 },
  service: { type: 'string', minLength: 1 },
  ...TARGET_PROPERTIES,
} as const;

/** The tag runbookd puts on a task definition revision that stayed healthy for a bake time. */
export const KNOWN_GOOD_TAG = 'runbookd:known-good';

export type Figure = { id: string; label: string; value: number | string; unit?: string };

/** Seconds between two instants, to the millisecond; null unless both are known. */
export function secondsBetween(fromMs: number | null | undefined, toMs: number | null | undefined): number | null {
  if (typeof fromMs !== 'number' || typeof toMs !== 'number' || !Number.isFinite(fromMs) || !Number.isFinite(toMs)) return null;
  return Math.round(toMs - fromMs) / 1000;
}

export function parseTime(v: string | undefined | null): number | null {
  if (!v) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}
