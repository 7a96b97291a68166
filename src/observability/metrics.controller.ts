import { Controller, Get, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequirePermission } from '../auth/permission.decorator';
import { MetricsService } from './metrics.service';

@ApiTags('health')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text format; scrape with a viewer key (`authorization: { credentials: ... }`). */
  @Get()
  @RequirePermission('view')
  async get(@Res() reply: FastifyReply) {
    const text = await this.metrics.render();
    return reply.type(this.metrics.contentType).send(text);
  }
}
