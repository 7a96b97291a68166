import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Where `npm run build` leaves the console (vite builds web/ into dist/web): next to this file's
 * compiled form in dist/, or under dist/ when the sources run directly (tests, ts-node).
 */
export function webConsoleDir(): string | undefined {
  // dist/http/ → dist/web; src/http/ → dist/web. Never the repository's web/ itself: that index.html is Vite's source.
  const candidates = [path.resolve(__dirname, '..', 'web'), path.resolve(__dirname, '..', '..', 'dist', 'web')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/**
 * Serves the web console's files at / (index.html, hashed assets/*). Only the files the build
 * produced get routes (wildcard off), so every other path still reaches the API's JSON 404, and
 * the policy below keeps the page to this origin: nothing is loaded from anywhere else.
 */
export function serveWebConsole(app: NestFastifyApplication, logger: LoggerService): void {
  const root = webConsoleDir();
  if (root === undefined) {
    logger.warn('the web console is not built (no dist/web/index.html): run `npm run build`; / answers 404 until then');
    return;
  }
  app.useStaticAssets({
    root,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    setHeaders: (res, file) => {
      // @fastify/static 10 hands over the Fastify reply; Nest's option type still says a raw response.
      const reply = res as unknown as FastifyReply;
      reply.header(
        'Content-Security-Policy',
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      );
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('Referrer-Policy', 'same-origin');
      // index.html names the hashed bundles of this build, so it is never cached; they can be, forever.
      reply.header('Cache-Control', path.basename(file) === 'index.html' ? 'no-store' : 'public, max-age=31536000, immutable');
    },
  });
}
