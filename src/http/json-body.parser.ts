import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import { RequestError } from '../common/coded-error';
import { jsonTextDepth, MAX_JSON_DEPTH, tooDeepMessage } from '../common/json-depth';

/**
 * JSON bodies: the nesting is counted on the text first, in one pass without recursion, so a body
 * thousands of levels deep is a 400 naming its depth before Fastify's parser, the pipes or any
 * recursive walk (storage checks, canonical JSON, redaction, audit) ever see it. Then Fastify's own
 * parser, with its refusal of `__proto__` and `constructor.prototype` keys, does the parsing.
 */
export function registerJsonBodyParser(app: NestFastifyApplication, bodyLimit: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parse = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (req, body, done) => {
    const text = body.toString('utf8');
    const depth = jsonTextDepth(text);
    if (depth > MAX_JSON_DEPTH) {
      done(new RequestError('INVALID_REQUEST', tooDeepMessage('the body', depth), { depth, limit: MAX_JSON_DEPTH }), undefined);
      return;
    }
    // Fastify's parser answers through done; what it returns says nothing more.
    void parse(req, text, done);
  });
}
