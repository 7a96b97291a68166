import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service';
import { RequirePermission } from '../auth/permission.decorator';
import { RequestError } from '../common/coded-error';
import { apiRef } from './openapi-schemas';

const seqOf = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new RequestError('INVALID_REQUEST', `${name} must be a whole number`, { field: name });
  return n;
};

const timeOf = (name: string, value: string | undefined): Date | undefined => {
  if (value === undefined || value === '') return undefined;
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new RequestError('INVALID_REQUEST', `${name} must be an ISO 8601 time, e.g. 2026-05-01T00:00:00Z`, { field: name });
  }
  return d;
};

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequirePermission('view')
  @ApiQuery({ name: 'runId', required: false })
  @ApiQuery({ name: 'kind', required: false, description: 'an exact kind (run.accepted), or a family ending in a dot (approval.)' })
  @ApiQuery({ name: 'actor', required: false })
  @ApiQuery({ name: 'since', required: false, description: 'ISO 8601: records written at or after' })
  @ApiQuery({ name: 'until', required: false, description: 'ISO 8601: records written before' })
  @ApiQuery({ name: 'order', required: false, enum: ['asc', 'desc'], description: 'asc (chain order, the default) or desc (newest first)' })
  @ApiQuery({ name: 'afterSeq', required: false, description: 'oldest first: nextAfterSeq of the previous page' })
  @ApiQuery({ name: 'beforeSeq', required: false, description: 'newest first: nextBeforeSeq of the previous page' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 1000, default 200' })
  @ApiOkResponse({ schema: apiRef('AuditList') })
  async list(
    @Query('runId') runId?: string,
    @Query('afterSeq') afterSeq?: string,
    @Query('limit') limit?: string,
    @Query('kind') kind?: string,
    @Query('actor') actor?: string,
    @Query('since') since?: string,
    @Query('until') until?: string,
    @Query('order') order?: string,
    @Query('beforeSeq') beforeSeq?: string,
  ) {
    const n = limit === undefined ? 200 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new RequestError('INVALID_REQUEST', 'limit must be an integer from 1 to 1000', { field: 'limit' });
    if (order !== undefined && order !== 'asc' && order !== 'desc') throw new RequestError('INVALID_REQUEST', 'order must be asc or desc', { field: 'order' });
    const desc = order === 'desc';
    const query = {
      runId: runId || undefined,
      kind: kind || undefined,
      actor: actor || undefined,
      since: timeOf('since', since),
      until: timeOf('until', until),
      order: desc ? ('desc' as const) : ('asc' as const),
      afterSeq: seqOf('afterSeq', afterSeq),
      beforeSeq: seqOf('beforeSeq', beforeSeq),
      limit: n,
    };
    const items = await this.audit.list(query);
    const full = items.length === n;
    return {
      items,
      nextAfterSeq: full && !desc ? items[items.length - 1].seq : null,
      nextBeforeSeq: full && desc ? items[items.length - 1].seq : null,
    };
  }

  @Get('verify')
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('AuditVerifyResult') })
  verify() {
    return this.audit.verify();
  }
}
