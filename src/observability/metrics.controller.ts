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
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(await this.metrics.render());
  }
}
