import { Injectable } from '@nestjs/common';
import { RdsLeftoversAdapter, TaggedResource, LEFTOVER_IAM_ACTIONS } from '../../aws/rds-leftovers.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { RunReader } from '../../engine/run-reader.port';

interface Input {
  regions?: string[];
}

export interface Spared extends TaggedResource {
  why: string;
}

interface Output extends Record<string, unknown> {
  candidates: TaggedResource[];
  spared: Spared[];
  regions: string[];
}

/**
 * Finds what runs left behind: resources tagged by runbookd whose `runbookd:expires-at` has
 * passed and whose run is no longer active. Untagged resources are never looked at twice; a
 * resource whose run is still going (or unknown to this installation) is spared, saying why.
 */
@Injectable()
export class FindExpiredStep implements StepType<Input, Output> {
  readonly uses = 'janitor.find-expired';
  readonly description = 'Lists resources tagged runbookd:expires-at in the past whose run has ended';
  readonly mutates = false;
  readonly iamActions = [...LEFTOVER_IAM_ACTIONS.list];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: { regions: { type: 'array', items: { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-\\d$' }, uniqueItems: true } },
  };
  readonly outputs = ['candidates', 'spared', 'regions'];

  constructor(
    private readonly rds: RdsLeftoversAdapter,
    private readonly runs: RunReader,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const regions = input.regions && input.regions.length > 0 ? input.regions : [this.config.aws.region];
    const now = this.clock.nowMs();
    const tagged = (await Promise.all(regions.map((r) => this.rds.listTagged(ctx.aws, r)))).flat();
    const spared: Spared[] = [];
    const expired: TaggedResource[] = [];
    for (const r of tagged) {
      const at = Date.parse(r.expiresAt);
      if (Number.isNaN(at)) spared.push({ ...r, why: `expiry tag "${r.expiresAt}" is not a time` });
      else if (at > now) continue;
      else expired.push(r);
    }
    const active = await this.runs.notEnded([...new Set(expired.map((r) => r.runId))]);
    const candidates: TaggedResource[] = [];
    for (const r of expired) {
      if (active.has(r.runId)) spared.push({ ...r, why: `run ${r.runId} has not ended (or is not known here)` });
      else candidates.push(r);
    }
    return done<Output>({ candidates, spared, regions });
  }

  summarize(o: Output): string {
    return `${o.candidates.length} expired resource(s) to remove, ${o.spared.length} spared, in ${o.regions.join(', ')}`;
  }
}
