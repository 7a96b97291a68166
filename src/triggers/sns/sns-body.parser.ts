import type { FastifyInstance } from 'fastify';

/**
 * SNS posts its JSON as `text/plain; charset=UTF-8`. The body stays a string here (the webhook
 * parses it, so a bad one is its 400), under its own size cap: over it Fastify answers 413
 * before reading further.
 */
export function registerSnsBodyParser(fastify: FastifyInstance, bodyLimit: number): void {
  if (fastify.hasContentTypeParser('text/plain')) fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser('text/plain', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
}
