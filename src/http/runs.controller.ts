import { Controller, Get, HttpCode, Logger, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { RequirePermission } from '../auth/permission.decorator';
import { RequestError } from '../common/coded-error';
import { formatSse, RunEventsService } from '../engine/run-events.service';
import { RunsService } from '../engine/runs.service';
import { renderHtml } from '../reports/report-html.renderer';
import { renderMarkdown } from '../reports/report-markdown.renderer';
import { RUN_STATES, TRIGGER_KINDS } from '../model/run.types';
import { apiRef } from './openapi-schemas';
import { fleetCsv } from '../reports/fleet-section';

@ApiTags('runs')
@ApiBearerAuth()
@Controller('v1/runs')
export class RunsController {
  private readonly logger = new Logger('RunEvents');

  constructor(
    private readonly runs: RunsService,
    private readonly events: RunEventsService,
  ) {}

  @Get()
  @RequirePermission('view')
  @ApiQuery({ name: 'runbook', required: false })
  @ApiQuery({ name: 'state', required: false, enum: [...RUN_STATES] })
  @ApiQuery({ name: 'trigger', required: false, enum: [...TRIGGER_KINDS] })
  @ApiQuery({ name: 'q', required: false, description: 'words that must each appear in the run id, runbook, actor, reason or parameters' })
  @ApiQuery({ name: 'since', required: false, description: 'ISO 8601: accepted at or after' })
  @ApiQuery({ name: 'until', required: false, description: 'ISO 8601: accepted before' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 200, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiOkResponse({ schema: apiRef('RunList') })
  list(
    @Query('runbook') runbook?: string,
    @Query('state') state?: string,
    @Query('trigger') trigger?: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('q') q?: string,
    @Query('since') since?: string,
    @Query('until') until?: string,
  ) {
    return this.runs.list({ runbook, state, trigger, cursor, limit, q, since, until });
  }

  @Get(':id')
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('RunView') })
  get(@Param('id') id: string) {
    return this.runs.view(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @RequirePermission('cancel', 'cancel runs')
  @ApiResponse({ status: 202, schema: apiRef('RunView') })
  cancel(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.runs.cancel(id, principal.name, principal);
  }

  /** Server-Sent Events of the run's state and step changes, ending when the run ends (README, "Live run events"). */
  @Get(':id/events')
  @RequirePermission('view')
  async streamEvents(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    await this.runs.get(id); // an unknown run is a plain 404, before the stream starts
    const closed = new AbortController();
    // The response's close (not the request's, which may fire once its empty body is read) is the client going away.
    reply.raw.on('close', () => closed.abort());
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    let seq = 0;
    try {
      for await (const event of this.events.stream(id, closed.signal)) {
        if (closed.signal.aborted) break;
        reply.raw.write(formatSse(event, ++seq));
      }
    } catch (err) {
      // Headers are gone already: say it on the stream, and log the cause.
      this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      if (!closed.signal.aborted)
        reply.raw.write(`event: error\ndata: ${JSON.stringify({ code: 'INTERNAL', message: 'the event stream failed; see the service log' })}\n\n`);
    }
    reply.raw.end();
  }

  @Get(':id/report')
  @RequirePermission('view')
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'md', 'html', 'csv'], description: "csv: a fleet run's targets, one row each" })
  @ApiProduces('application/json', 'text/markdown', 'text/html', 'text/csv')
  @ApiOkResponse({ schema: apiRef('RunReport') })
  async report(@Param('id') id: string, @Query('format') format: string | undefined, @Res() reply: FastifyReply) {
    const f = format ?? 'json';
    if (!['json', 'md', 'html', 'csv'].includes(f)) {
      throw new RequestError('INVALID_REQUEST', 'format must be json, md, html or csv', { field: 'format' });
    }
    const report = await this.runs.report(id);
    if (f === 'csv') {
      if (!report.fleet)
        throw new RequestError('INVALID_REQUEST', 'format=csv is the target table of a fleet run, and this run is not one (or has not ended)', {
          field: 'format',
        });
      return reply.type('text/csv; charset=utf-8').header('Content-Disposition', `attachment; filename="${id}-targets.csv"`).send(fleetCsv(report.fleet));
    }
    if (f === 'md') return reply.type('text/markdown; charset=utf-8').send(renderMarkdown(report));
    if (f === 'html') {
      // The page is self-contained: no scripts, no outside assets.
      return reply
        .type('text/html; charset=utf-8')
        .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
        .send(renderHtml(report));
    }
    return reply.type('application/json; charset=utf-8').send(report);
  }
}
