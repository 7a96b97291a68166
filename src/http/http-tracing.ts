import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TraceSpan } from '../tracing/trace-context';
import type { TracingService } from '../tracing/tracing.service';

// Reads (the console's polling, health, metrics) would drown the traces that matter: a trace
// starts at a request that changes something (a run started, approved, cancelled; an SNS message).
const TRACED_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A server span per changing request, the root of the trace of any run it starts. The span is
 * made current in preHandler, after the body is parsed (parsing runs in the socket's async
 * context, which would lose it), so the handler, acceptance and everything it awaits join it.
 * An incoming W3C `traceparent` header is honoured, as OpenTelemetry's HTTP instrumentation does:
 * a caller that traces (a CI job, a chat bot) sees the run inside its own trace.
 */
export function registerHttpTracing(fastify: FastifyInstance, tracing: TracingService): void {
  if (!tracing.enabled) return;
  const spans = new WeakMap<FastifyRequest, TraceSpan>();
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (TRACED_METHODS.has(request.method)) {
      const route = request.routeOptions?.url ?? request.url.split('?')[0];
      const header = request.headers.traceparent;
      const span = tracing.start(`${request.method} ${route}`, {
        kind: 'server',
        root: true,
        parent: typeof header === 'string' ? header : undefined,
        attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url.split('?')[0] },
      });
      if (span) spans.set(request, span);
    }
    done();
  });
  fastify.addHook('preHandler', (request, _reply, done) => {
    tracing.within(spans.get(request), () => done());
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttributes({ 'http.response.status_code': reply.statusCode });
      if (reply.statusCode >= 500) span.fail(`answered ${reply.statusCode}`);
      span.end();
    }
    done();
  });
}
