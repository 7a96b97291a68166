import { LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ApiModule } from './api.module';
import { AppConfig } from './config/app.config';
import { InfrastructureModule } from './infrastructure.module';
import { HttpErrorFilter, sendError } from './http/http-error.filter';
import { registerJsonBodyParser } from './http/json-body.parser';
import { API_SCHEMAS } from './http/openapi-schemas';
import { serveWebConsole } from './http/web-console';
import { registerSnsBodyParser } from './triggers/sns/sns-body.parser';
import { registerSnsRateLimit } from './triggers/sns/sns-rate-limit';
import { StorableTextPipe } from './http/storable-text.pipe';
import { registerHttpTracing } from './http/http-tracing';
import { TraceLogger } from './tracing/trace-logger';
import { TracingService } from './tracing/tracing.service';
import { WorkerModule } from './worker.module';

/** Request bodies are small JSON documents; anything larger is refused with 413. */
const BODY_LIMIT_BYTES = 256 * 1024;

const LEVELS: Record<AppConfig['log']['level'], LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  log: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** Builds the application for this process's role: api, worker, or all (both). */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const hasApi = config.role !== 'worker';
  const hasWorker = config.role !== 'api';

  @Module({
    imports: [InfrastructureModule.forRoot(config), ...(hasApi ? [ApiModule] : []), ...(hasWorker ? [WorkerModule] : [])],
  })
  class RootModule {}

  const logger = new TraceLogger({ json: config.log.format === 'json', logLevels: LEVELS[config.log.level], prefix: 'runbookd' });
  // frameworkErrors: what Fastify refuses before a route is found (a URL that does not decode) gets the one error shape too.
  // trustProxy: request.ip is the TCP peer unless that peer is a configured proxy (RUNBOOKD_TRUSTED_PROXIES);
  // only then is X-Forwarded-For read. Sign-in limits, webhook limits and audit records all key on request.ip.
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.http.trustedProxies.length > 0 ? config.http.trustedProxies : false,
    frameworkErrors: (error: Error, _request: unknown, reply: FastifyReply) => sendError(reply, error),
  });
  const app = await NestFactory.create<NestFastifyApplication>(RootModule, adapter, {
    logger,
    abortOnError: false,
  });
  app.useGlobalFilters(new HttpErrorFilter());
  app.useGlobalPipes(new StorableTextPipe());
  registerJsonBodyParser(app, BODY_LIMIT_BYTES);
  if (hasApi) registerHttpTracing(app.getHttpAdapter().getInstance(), app.get(TracingService));
  if (hasApi) registerSnsBodyParser(app.getHttpAdapter().getInstance(), config.sns.bodyLimitBytes);
  if (hasApi) serveWebConsole(app, logger);
  if (hasApi) await registerSnsRateLimit(app, config.sns.rateLimitPerMinute);
  app.enableShutdownHooks();
  if (hasApi) SwaggerModule.setup('docs', app, openApiDocument(app), { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}

/**
 * The OpenAPI document served at /docs/openapi.json, with the response bodies' schemas; the
 * console's types are generated from it (scripts/console-api-types.js).
 */
export function openApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('runbookd')
      .setDescription('Durable, audited runbooks against AWS. Authenticate with Authorization: Bearer <API key>.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  // The schemas use JSON Schema's `type: [x, 'null']`, which is OpenAPI 3.1.
  doc.openapi = '3.1.0';
  doc.components = {
    ...doc.components,
    schemas: { ...(doc.components?.schemas ?? {}), ...(API_SCHEMAS as NonNullable<OpenAPIObject['components']>['schemas']) },
  };
  return doc;
}
