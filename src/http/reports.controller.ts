import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '../auth/permission.decorator';
import { RunsService } from '../engine/runs.service';

@ApiTags('reports')
@ApiBearerAuth()
@Controller('v1/reports')
export class ReportsController {
  constructor(private readonly runs: RunsService) {}

  @Get()
  @RequirePermission('view')
  @ApiQuery({ name: 'runbook', required: true, description: 'runbook id, e.g. monthly-dr-drill' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 200, default 20' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  list(@Query('runbook') runbook?: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    return this.runs.reports({ runbook, cursor, limit });
  }
}
