import { Controller, Get, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireRole } from '../auth/roles.decorator';
import { MetricsService } from './metrics.service';

@ApiTags('health')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text format; scrape with a viewer key (`authorization: { credentials: ... }`). */
  @Get()
  @RequireRole('viewer')
  async get(@Res() reply: FastifyReply) {
    const text = await this.metrics.render();
    return reply.type(this.metrics.contentType).send(text);
  }
}
