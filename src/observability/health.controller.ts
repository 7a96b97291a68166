import { Controller, Get, HttpCode, Logger, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/permission.decorator';
import { redactText } from '../common/redact';
import { RunQueue } from '../engine/run-queue.adapter';
import { Database } from '../persistence/database';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('Health');

  constructor(
    private readonly db: Database,
    private readonly queue: RunQueue,
  ) {}

  @Get('live')
  @Public()
  @HttpCode(200)
  live() {
    return { status: 'ok' };
  }

  /** Ready when both the database (the truth) and Redis (the queue) answer. */
  @Get('ready')
  @Public()
  async ready(@Res() reply: FastifyReply) {
    // Unauthenticated callers learn which dependency is down, never its error text (hosts, users, driver details): that goes to the log.
    const check = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000);
        return { ok: true };
      } catch (err) {
        this.logger.warn(`readiness: ${name} is down: ${redactText((err as Error).message ?? String(err))}`);
        return { ok: false, status: 'down' };
      }
    };
    const [database, redis] = await Promise.all([check('database', () => this.db.query('SELECT 1')), check('redis', () => this.queue.ping())]);
    const ok = database.ok && redis.ok;
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: { database, redis } });
  }
}
