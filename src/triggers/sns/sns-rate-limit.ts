import rateLimit from '@fastify/rate-limit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';

export const SNS_WEBHOOK_PATH = '/v1/webhooks/sns';
/** Every webhook (SNS, EventBridge, PagerDuty, Slack) is open to anyone's POST: all are limited alike. */
export const WEBHOOKS_PATH = '/v1/webhooks/';

/**
 * The webhooks are the routes anyone may POST to. Per source address, posts beyond the limit are
 * answered 429 in Fastify's onRequest hook: before the body is read, a certificate fetched or
 * anything written. Other routes are not limited here (they need an API key first).
 * SNS retries a 429 delivery with back-off, so a genuine burst above the limit is delayed, not lost.
 */
export async function registerSnsRateLimit(app: NestFastifyApplication, perMinute: number): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => req.ip,
    allowList: (req: FastifyRequest) => req.method !== 'POST' || !req.url.startsWith(WEBHOOKS_PATH),
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: { code: 'RATE_LIMITED', message: `more than ${ctx.max} webhook posts a minute from this address; retry in ${ctx.after}`, details: {} },
    }),
  });
}
