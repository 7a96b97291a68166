import { Injectable } from '@nestjs/common';
import { paginateGetResources, type ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { GetCallerIdentityCommand, type GetCallerIdentityCommandOutput } from '@aws-sdk/client-sts';
import type { AwsCallContext } from './aws-call.types';
import { AwsCallerService, type AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import type { CallTally } from './call-tally';

/** A resource as the tagging API lists it: its ARN and its tags. */
export interface TaggedResource {
  arn: string;
  tags: Record<string, string>;
}

/** Tag key → the values a resource may carry under it (any of them); every key must match. */
export type TagFilter = Record<string, string[]>;

/**
 * The Resource Groups Tagging API (GetResources) and STS GetCallerIdentity: what a fleet run
 * needs to find its targets by tag in one account and region, and to know which account the
 * default credentials act in. Read only.
 */
@Injectable()
export class TaggingAdapter {
  private readonly tagging: AwsServiceCalls;
  private readonly sts: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.tagging = caller.forService('tagging', (region, roleArn) => clients.tagging(region, roleArn));
    this.sts = caller.forService('sts', (region, roleArn) => clients.sts(region, roleArn));
  }

  /** Every resource of one type carrying the tags, in the target's region and account (100 per page). */
  async resources(ctx: AwsCallContext, target: AwsTarget, resourceType: string, tags: TagFilter, tally?: CallTally): Promise<TaggedResource[]> {
    const out: TaggedResource[] = [];
    const input = {
      ResourceTypeFilters: [resourceType],
      TagFilters: Object.entries(tags).map(([Key, Values]) => ({ Key, Values })),
      ResourcesPerPage: 100,
    };
    for await (const page of paginateGetResources(this.tagging.paging<ResourceGroupsTaggingAPIClient>(ctx, target, 'GetResources', tally), input)) {
      for (const m of page.ResourceTagMappingList ?? []) {
        if (!m.ResourceARN) continue;
        out.push({ arn: m.ResourceARN, tags: Object.fromEntries((m.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])) });
      }
    }
    return out;
  }

  /** The account the target's credentials act in (the default credentials' account when no role is named). */
  async callerAccount(ctx: AwsCallContext, target: AwsTarget): Promise<string> {
    const out = await this.sts.read<GetCallerIdentityCommandOutput>(ctx, target, 'GetCallerIdentity', new GetCallerIdentityCommand({}));
    return out.Account ?? '';
  }
}
