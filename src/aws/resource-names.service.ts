import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { RdsEstateAdapter } from './rds-estate.adapter';

export const RESOURCE_NAME_TYPES = ['rds:db-instance', 'rds:db-cluster'] as const;
export type ResourceNameType = (typeof RESOURCE_NAME_TYPES)[number];

/** How long a listing is reused: a form opened a few times a minute lists the account once. */
const CACHE_MS = 60_000;

export interface ResourceNames {
  type: ResourceNameType;
  region: string;
  names: string[];
  fetchedAt: string;
}

/**
 * Names of the account's RDS instances and clusters, for the console's parameter pickers: a
 * read-only Describe through the same adapter the capacity report uses, cached per type and
 * region, so typing a form never becomes a stream of AWS calls.
 */
@Injectable()
export class ResourceNamesService {
  private readonly cache = new Map<string, { at: number; names: Promise<string[]> }>();

  constructor(
    private readonly rds: RdsEstateAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async list(type: ResourceNameType, actor: string, region = this.config.aws.region): Promise<ResourceNames> {
    const key = `${type}|${region}`;
    const now = this.clock.nowMs();
    let hit = this.cache.get(key);
    if (!hit || now - hit.at > CACHE_MS) {
      hit = { at: now, names: this.fetch(type, region, actor) };
      this.cache.set(key, hit);
      // A failed listing is not kept: the next form asks again.
      hit.names.catch(() => this.cache.get(key) === hit && this.cache.delete(key));
    }
    return { type, region, names: await hit.names, fetchedAt: new Date(hit.at).toISOString() };
  }

  private async fetch(type: ResourceNameType, region: string, actor: string): Promise<string[]> {
    // Not a run: a context of its own, read-only, named so an AWS-side trail says where it came from.
    const ctx = { runId: 'console-lookup', runbookId: '', stepId: 'resource-names', actor, dryRun: true, expiresAt: new Date(this.clock.nowMs() + CACHE_MS) };
    const names =
      type === 'rds:db-instance'
        ? (await this.rds.listInstances(ctx, region)).map((i) => i.identifier)
        : (await this.rds.listClusters(ctx, region)).map((c) => c.identifier);
    return names.filter(Boolean).sort();
  }
}
