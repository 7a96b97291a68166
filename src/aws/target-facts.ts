/**
 * What runbookd read about one resource a run will act on, before it decides whether the run
 * needs an approval: never what the requester typed. `account` comes from the resource's own
 * ARN (the account that answered), tags from the service's describe call.
 */
export interface TargetFacts {
  /** `<service>:<resource type>`, e.g. `rds:cluster`. */
  type: string;
  identifier: string;
  arn: string | null;
  account: string | null;
  region: string;
  tags: Record<string, string>;
}

/** The account an ARN names (`arn:aws:rds:eu-west-1:222222222222:cluster:x` → 222222222222). */
export function accountOfArn(arn: string | null | undefined): string | null {
  const m = /^arn:aws[a-z-]*:[^:]*:[^:]*:(\d{12}):/.exec(arn ?? '');
  return m ? m[1] : null;
}

export function tagMap(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}
