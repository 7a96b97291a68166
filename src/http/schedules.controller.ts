import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequireRole } from '../auth/roles.decorator';
import { SchedulesService } from '../triggers/schedules/schedules.service';

@ApiTags('schedules')
@ApiBearerAuth()
@Controller('v1/schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Get()
  @RequireRole('viewer')
  async list() {
    return { items: await this.schedules.list() };
  }

  @Get(':id')
  @RequireRole('viewer')
  get(@Param('id') id: string) {
    return this.schedules.view(id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @RequireRole('operator', 'pause schedules')
  pause(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.schedules.pause(id, principal.name);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @RequireRole('operator', 'resume schedules')
  resume(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.schedules.resume(id, principal.name);
  }
}
