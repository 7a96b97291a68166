import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service';
import { RequireRole } from '../auth/roles.decorator';
import { RequestError } from '../common/coded-error';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRole('viewer')
  async list(@Query('runId') runId?: string, @Query('afterSeq') afterSeq?: string, @Query('limit') limit?: string) {
    const n = limit === undefined ? 200 : Number(limit);
    const after = afterSeq === undefined ? undefined : Number(afterSeq);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new RequestError('INVALID_REQUEST', 'limit must be an integer from 1 to 1000', { field: 'limit' });
    if (after !== undefined && (!Number.isInteger(after) || after < 0)) throw new RequestError('INVALID_REQUEST', 'afterSeq must be a whole number', { field: 'afterSeq' });
    const items = await this.audit.list({ runId, afterSeq: after, limit: n });
    return { items, nextAfterSeq: items.length === n ? items[items.length - 1].seq : null };
  }

  @Get('verify')
  @RequireRole('viewer')
  verify() {
    return this.audit.verify();
  }
}
