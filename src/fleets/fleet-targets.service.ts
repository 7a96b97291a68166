import { Injectable } from '@nestjs/common';
import pLimit from 'p-limit';
import { TargetPolicyService } from '../auth/target-policy.service';
import type { AwsCallContext } from '../aws/aws-call.types';
import { TaggingAdapter } from '../aws/tagging.adapter';
import { countCall, type CallTally } from '../aws/call-tally';
import { AppConfig } from '../config/app.config';
import { FleetError } from './fleet.error';
import { arnOf, parseArn } from './fleet-request';
import type { FleetTarget, TargetSelector } from '../model/fleet.types';

/** Accounts × regions asked at once while resolving: enough to hide latency, few enough for one account's tagging quota. */
const RESOLVE_PARALLELISM = 8;

export interface ResolvedTargets {
  targets: FleetTarget[];
  /** The account the default credentials act in. */
  homeAccount: string;
  /** Where the tagging API was asked (a list resolves without asking). */
  searched: Array<{ account: string; region: string; found: number }>;
  calls: CallTally;
}

/**
 * Turns a fleet's selector into the fixed list of targets it acts on, before any run is recorded:
 * by tag (GetResources per account and region, each account reached through the role made from
 * RUNBOOKD_ACCOUNT_ROLE_ARN, the home account through the default credentials) or from an
 * explicit list. Every account and region is checked against the allow-lists first, so a refused
 * request calls nothing in them.
 */
@Injectable()
export class FleetTargetsService {
  private homeAccount: Promise<string> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly tagging: TaggingAdapter,
    private readonly policy: TargetPolicyService,
  ) {}

  async resolve(runbookId: string, selector: TargetSelector, ctx: AwsCallContext): Promise<ResolvedTargets> {
    const home = await this.home(ctx);
    const calls: CallTally = {};
    countCall(calls, 'sts:GetCallerIdentity');
    const found: Array<Omit<FleetTarget, 'index'>> = [];
    const searched: ResolvedTargets['searched'] = [];
    if (selector.kind === 'tags') {
      const accounts = selector.accounts.length > 0 ? selector.accounts : [home];
      const regions = selector.regions.length > 0 ? selector.regions : [this.config.aws.region];
      const roles = new Map(accounts.map((a) => [a, this.roleFor(runbookId, a, home)]));
      for (const r of regions) this.policy.checkRegion(runbookId, 'targets.regions', r);
      const limit = pLimit(RESOLVE_PARALLELISM);
      const pairs = accounts.flatMap((account) => regions.map((region) => ({ account, region })));
      const pages = await Promise.all(
        pairs.map(({ account, region }) =>
          limit(async () => {
            const roleArn = roles.get(account) ?? null;
            const list = await this.tagging.resources(ctx, { region, ...(roleArn ? { roleArn } : {}) }, selector.resourceType, selector.tags, calls);
            return { account, region, roleArn, list };
          }),
        ),
      );
      for (const { account, region, roleArn, list } of pages) {
        let n = 0;
        for (const r of list) {
          const a = parseArn(r.arn);
          // The tagging API of one account and region answers for them alone; anything else is not this fleet's to touch.
          if (!a || a.resourceType !== selector.resourceType || a.account !== account || a.region !== region) continue;
          found.push({
            arn: r.arn,
            id: a.id,
            resourceType: selector.resourceType,
            account,
            region,
            roleArn,
            tags: r.tags,
            ...(a.cluster ? { cluster: a.cluster } : {}),
          });
          n++;
        }
        searched.push({ account, region, found: n });
      }
    } else {
      const roles = new Map<string, string | null>();
      const role = (account: string) => {
        if (!roles.has(account)) roles.set(account, this.roleFor(runbookId, account, home));
        return roles.get(account)!;
      };
      for (const [i, raw] of selector.resources.entries()) {
        const field = `targets.resources[${i}]`;
        let account: string;
        let region: string;
        let arn: string;
        if (raw.startsWith('arn:')) {
          const a = parseArn(raw);
          if (!a || a.resourceType !== selector.resourceType || !a.account || !a.region) {
            throw invalid(field, `${raw.slice(0, 200)} is not the ARN of a ${selector.resourceType}`);
          }
          if (selector.accounts && !selector.accounts.includes(a.account))
            throw invalid(field, `${raw} is in account ${a.account}, which targets.accounts does not list`);
          if (selector.regions && !selector.regions.includes(a.region))
            throw invalid(field, `${raw} is in region ${a.region}, which targets.regions does not list`);
          ({ account, region } = a);
          arn = raw;
        } else {
          if ((selector.accounts?.length ?? 1) > 1 || (selector.regions?.length ?? 1) > 1) {
            throw invalid(
              field,
              `"${raw.slice(0, 200)}" is an id, which names one resource in one account and region: give its ARN, or list one account and one region`,
            );
          }
          if (selector.resourceType === 'ecs:service' && !/^[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]{1,255}$/.test(raw)) {
            throw invalid(field, `an ECS service is named <cluster>/<service>, got "${raw.slice(0, 200)}"`);
          }
          if (!/^[A-Za-z0-9/_.:-]{1,255}$/.test(raw)) throw invalid(field, `"${raw.slice(0, 200)}" is not a resource id`);
          account = selector.accounts?.[0] ?? home;
          region = selector.regions?.[0] ?? this.config.aws.region;
          arn = arnOf(selector.resourceType, raw, account, region);
        }
        this.policy.checkRegion(runbookId, field, region);
        const roleArn = role(account);
        const a = parseArn(arn)!;
        found.push({ arn, id: a.id, resourceType: selector.resourceType, account, region, roleArn, tags: {}, ...(a.cluster ? { cluster: a.cluster } : {}) });
      }
    }
    const unique = [...new Map(found.map((t) => [t.arn, t])).values()];
    unique.sort((x, y) => cmp(x.account, y.account) || cmp(x.region, y.region) || cmp(x.arn, y.arn));
    if (unique.length > this.config.fleets.maxTargets) {
      throw new FleetError(
        'FLEET_TOO_MANY_TARGETS',
        `the targets resolved to ${unique.length} resources; a fleet takes at most ${this.config.fleets.maxTargets} (RUNBOOKD_FLEET_MAX_TARGETS): narrow the tags, accounts or regions`,
        {
          count: unique.length,
          max: this.config.fleets.maxTargets,
        },
      );
    }
    return { targets: unique.map((t, index) => ({ index, ...t })), homeAccount: home, searched, calls };
  }

  /**
   * Every account × region a read across the estate goes to, with the role each account is
   * reached through (none at home): the same roles and allow-list checks a fleet's resolution
   * uses, for readers that list everything there rather than search by tag (resilience posture).
   */
  async reach(
    purpose: string,
    accounts: readonly string[],
    regions: readonly string[],
    ctx: AwsCallContext,
  ): Promise<{ homeAccount: string; places: Array<{ account: string; region: string; roleArn: string | null }> }> {
    const home = await this.home(ctx);
    const list = accounts.length > 0 ? [...new Set(accounts)] : [home];
    const where = regions.length > 0 ? [...new Set(regions)] : [this.config.aws.region];
    for (const r of where) this.policy.checkRegion(purpose, 'scope.regions', r);
    const roles = new Map(list.map((a) => [a, this.roleFor(purpose, a, home)]));
    return { homeAccount: home, places: list.flatMap((account) => where.map((region) => ({ account, region, roleArn: roles.get(account) ?? null }))) };
  }

  /** The role a fleet assumes in an account (none in the home account), checked against the allow-lists. */
  private roleFor(runbookId: string, account: string, home: string): string | null {
    const roleArn = account === home ? null : (this.config.fleets.accountRoleArnTemplate?.split('{account}').join(account) ?? undefined);
    if (roleArn === undefined) {
      throw invalid(
        'targets.accounts',
        `account ${account} is not the home account (${home}) and RUNBOOKD_ACCOUNT_ROLE_ARN is not set, so runbookd has no way into it`,
      );
    }
    this.policy.checkAccount(runbookId, 'targets.accounts', account, roleArn);
    return roleArn;
  }

  /** Asked once per process: the default credentials do not change account while it runs. */
  private home(ctx: AwsCallContext): Promise<string> {
    if (!this.homeAccount) {
      const asked = this.tagging.callerAccount(ctx, this.config.aws.region);
      this.homeAccount = asked;
      asked.catch(() => {
        if (this.homeAccount === asked) this.homeAccount = null;
      });
    }
    return this.homeAccount;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(field: string, why: string): FleetError {
  return new FleetError('FLEET_TARGETS_INVALID', `${field}: ${why}`, { field });
}
