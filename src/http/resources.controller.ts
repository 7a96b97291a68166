import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequirePermission } from '../auth/permission.decorator';
import { RESOURCE_NAME_TYPES, ResourceNamesService, type ResourceNameType } from '../aws/resource-names.service';
import { RequestError } from '../common/coded-error';
import { apiRef } from './openapi-schemas';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Names of the account's resources, for the start form's pickers (read only, cached). */
@ApiTags('resources')
@ApiBearerAuth()
@Controller('v1/resources')
export class ResourcesController {
  constructor(private readonly names: ResourceNamesService) {}

  @Get('names')
  @RequirePermission('run', 'list resource names')
  @ApiQuery({ name: 'type', required: true, enum: [...RESOURCE_NAME_TYPES] })
  @ApiQuery({ name: 'region', required: false, description: 'a region code such as eu-west-1; the service default otherwise' })
  @ApiOkResponse({ schema: apiRef('ResourceNames') })
  list(@Query('type') type: string | undefined, @Query('region') region: string | undefined, @CurrentPrincipal() principal: Principal) {
    if (!type || !(RESOURCE_NAME_TYPES as readonly string[]).includes(type)) {
      throw new RequestError('INVALID_REQUEST', `type must be one of ${RESOURCE_NAME_TYPES.join(', ')}`, { field: 'type' });
    }
    if (region !== undefined && region !== '' && !REGION.test(region))
      throw new RequestError('INVALID_REQUEST', 'region must be a region code such as eu-west-1', { field: 'region' });
    return this.names.list(type as ResourceNameType, principal.name, region || undefined);
  }
}
