import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequirePermission } from '../auth/permission.decorator';
import { RequestError } from '../common/coded-error';
import { VERDICTS, type Verdict } from '../resilience/resilience-posture';
import { ResiliencePostureService } from '../fleets/resilience-posture.service';
import { apiRef } from './openapi-schemas';

const VERDICT_FILTERS = [...VERDICTS, 'untiered'] as const;

/** Posture per resource against the resilience policy's tiers (read only; the AWS reads behind it are cached). */
@ApiTags('resilience')
@ApiBearerAuth()
@Controller('v1/resilience')
export class ResilienceController {
  constructor(private readonly posture: ResiliencePostureService) {}

  @Get()
  @RequirePermission('view')
  @ApiQuery({ name: 'tier', required: false, description: 'a tier of the policy, or untiered' })
  @ApiQuery({ name: 'account', required: false, description: 'a 12-digit account id' })
  @ApiQuery({
    name: 'verdict',
    required: false,
    enum: [...VERDICT_FILTERS],
    description: 'resources with at least one objective of this verdict (untiered: resources in no tier)',
  })
  @ApiOkResponse({ schema: apiRef('ResiliencePosture') })
  get(@CurrentPrincipal() principal: Principal, @Query('tier') tier?: string, @Query('account') account?: string, @Query('verdict') verdict?: string) {
    const tiers = Object.keys(this.posture.policy?.tiers ?? {});
    if (tier !== undefined && tier !== '' && tier !== 'untiered' && !tiers.includes(tier)) {
      throw new RequestError('INVALID_REQUEST', `tier must be one of ${[...tiers, 'untiered'].join(', ')}`, { field: 'tier' });
    }
    if (account !== undefined && account !== '' && !/^\d{12}$/.test(account))
      throw new RequestError('INVALID_REQUEST', 'account must be a 12-digit account id', { field: 'account' });
    if (verdict !== undefined && verdict !== '' && !(VERDICT_FILTERS as readonly string[]).includes(verdict)) {
      throw new RequestError('INVALID_REQUEST', `verdict must be one of ${VERDICT_FILTERS.join(', ')}`, { field: 'verdict' });
    }
    return this.posture.posture(principal.name, {
      ...(tier ? { tier } : {}),
      ...(account ? { account } : {}),
      ...(verdict ? { verdict: verdict as Verdict | 'untiered' } : {}),
    });
  }
}
