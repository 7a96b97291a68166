import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequirePermission } from '../auth/permission.decorator';
import { StopSwitchService } from '../engine/stop-switch.service';
import { JsonSchemaPipe } from './json-schema.pipe';
import { apiRef } from './openapi-schemas';

interface StopBody {
  reason: string;
}

interface ResumeBody {
  reason?: string;
}

const stopSchema: Record<string, any> = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: 2000, pattern: '\\S', description: 'why everything is stopped; shown to everyone refused, and audited' },
  },
};
const resumeSchema: Record<string, any> = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 2000, description: 'why it is safe again; audited' } },
};

/** The stop button: stop every run and refuse new ones (admin), lift it (admin), read it (anyone signed in). */
@ApiTags('stop-all')
@ApiBearerAuth()
@Controller('v1')
export class StopSwitchController {
  constructor(private readonly stopSwitch: StopSwitchService) {}

  @Get('stop-all')
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('StopSwitch') })
  state() {
    return this.stopSwitch.state();
  }

  @Post('stop-all')
  @HttpCode(200)
  @RequirePermission('admin', 'stop every run')
  @ApiBody({ schema: stopSchema })
  @ApiOkResponse({ schema: apiRef('StopSwitch') })
  @ApiResponse({ status: 409, description: 'STOP_SWITCH_UNCHANGED: already stopped (names who and why)' })
  stop(@Body(new JsonSchemaPipe<StopBody>(stopSchema)) body: StopBody, @CurrentPrincipal() principal: Principal) {
    return this.stopSwitch.stopAll(principal.name, body.reason.trim());
  }

  @Post('resume-all')
  @HttpCode(200)
  @RequirePermission('admin', 'resume after stop-all')
  @ApiBody({ schema: resumeSchema, required: false })
  @ApiOkResponse({ schema: apiRef('StopSwitch') })
  @ApiResponse({ status: 409, description: 'STOP_SWITCH_UNCHANGED: nothing is stopped' })
  resume(@Body(new JsonSchemaPipe<ResumeBody>(resumeSchema, { optional: true })) body: ResumeBody, @CurrentPrincipal() principal: Principal) {
    return this.stopSwitch.resumeAll(principal.name, body.reason?.trim() || null);
  }
}
