import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequirePermission } from '../auth/permission.decorator';
import { RequestError } from '../common/coded-error';
import { ApprovalsService } from '../engine/approvals.service';
import type { ApprovalState } from '../persistence/approvals.repository';
import { JsonSchemaPipe } from './json-schema.pipe';
import { apiRef } from './openapi-schemas';

interface DecisionBody {
  comment?: string;
  /** The plan hash the person looked at; refused if the plan changed since. */
  planHash?: string;
}

const approveSchema: Record<string, any> = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 2000 }, planHash: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
};
const rejectSchema: Record<string, any> = {
  ...approveSchema,
  required: ['comment'],
  properties: { ...approveSchema.properties, comment: { type: 'string', minLength: 1, maxLength: 2000 } },
};
const STATES: readonly ApprovalState[] = ['pending', 'approved', 'rejected', 'expired', 'void'];

@ApiTags('approvals')
@ApiBearerAuth()
@Controller('v1')
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalsService) {}

  @Get('approvals')
  @RequirePermission('view')
  @ApiQuery({ name: 'state', required: false, enum: [...STATES] })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 200, default 50' })
  @ApiOkResponse({ schema: apiRef('ApprovalList') })
  async list(@Query('state') state?: string, @Query('limit') limit?: string) {
    if (state !== undefined && !STATES.includes(state as ApprovalState))
      throw new RequestError('INVALID_REQUEST', `state must be one of ${STATES.join(', ')}`, { field: 'state' });
    const n = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 200) throw new RequestError('INVALID_REQUEST', 'limit must be an integer from 1 to 200', { field: 'limit' });
    return { items: await this.approvals.list(state as ApprovalState | undefined, n) };
  }

  @Get('runs/:id/approval')
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('ApprovalView') })
  get(@Param('id') id: string) {
    return this.approvals.forRun(id);
  }

  @Post('runs/:id/approve')
  @HttpCode(200)
  @RequirePermission('approve', 'approve runs')
  @ApiBody({ schema: approveSchema })
  @ApiOkResponse({ schema: apiRef('ApprovalView') })
  approve(@Param('id') id: string, @Body(new JsonSchemaPipe<DecisionBody>(approveSchema)) body: DecisionBody, @CurrentPrincipal() principal: Principal) {
    return this.approvals.decide(id, principal, 'approve', body.comment ?? null, body.planHash);
  }

  @Post('runs/:id/reject')
  @HttpCode(200)
  @RequirePermission('approve', 'reject runs')
  @ApiBody({ schema: rejectSchema })
  @ApiOkResponse({ schema: apiRef('ApprovalView') })
  reject(@Param('id') id: string, @Body(new JsonSchemaPipe<DecisionBody>(rejectSchema)) body: DecisionBody, @CurrentPrincipal() principal: Principal) {
    return this.approvals.decide(id, principal, 'reject', body.comment ?? null, body.planHash);
  }
}
