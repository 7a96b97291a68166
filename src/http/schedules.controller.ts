import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequirePermission } from '../auth/permission.decorator';
import { SchedulesService } from '../triggers/schedules/schedules.service';
import { JsonSchemaPipe } from './json-schema.pipe';
import { apiRef } from './openapi-schemas';

interface PauseBody {
  reason?: string;
}

const pauseSchema: Record<string, any> = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 2000, description: 'why the schedule is paused; recorded in the audit log' } },
};

@ApiTags('schedules')
@ApiBearerAuth()
@Controller('v1/schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Get()
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('ScheduleList') })
  async list() {
    return { items: await this.schedules.list() };
  }

  @Get(':id')
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('ScheduleView') })
  get(@Param('id') id: string) {
    return this.schedules.view(id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @RequirePermission('run', 'pause schedules')
  @ApiBody({ schema: pauseSchema, required: false })
  @ApiOkResponse({ schema: apiRef('ScheduleView') })
  pause(
    @Param('id') id: string,
    @Body(new JsonSchemaPipe<PauseBody>(pauseSchema, { optional: true })) body: PauseBody,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.schedules.pause(id, principal.name, body.reason?.trim() || null);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @RequirePermission('run', 'resume schedules')
  @ApiOkResponse({ schema: apiRef('ScheduleView') })
  resume(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.schedules.resume(id, principal.name);
  }
}
