import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config/tracing.config';
import type { SpanStart, TraceBackend } from './trace-backend';
import { parseTraceparent, type SpanAttributes, type TraceSpan } from './trace-context';

/**
 * The only file that imports OpenTelemetry. TracingService requires it when tracing is on,
 * so a process with tracing off loads none of the SDK. Spans go out as OTLP/HTTP (JSON) in
 * batches; parents are passed explicitly as W3C trace context, so no global context manager
 * or monkey-patching is installed.
 */
export class OtlpTraceBackend implements TraceBackend {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;

  constructor(config: TracingConfig) {
    const exporter = new OTLPTraceExporter({ url: config.tracesUrl, headers: config.headers, timeoutMillis: config.exportTimeoutMs });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        [ATTR_SERVICE_NAME]: config.serviceName,
        [ATTR_SERVICE_VERSION]: config.serviceVersion,
        ...config.resourceAttributes,
      }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: config.batchDelayMs })],
    });
    this.tracer = this.provider.getTracer('runbookd', config.serviceVersion);
  }

  startSpan(name: string, start: SpanStart): TraceSpan {
    const parent = parseTraceparent(start.parent);
    const ctx = parent
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
          isRemote: true,
        })
      : ROOT_CONTEXT;
    const span = this.tracer.startSpan(name, { kind: KINDS[start.kind ?? 'internal'], attributes: clean(start.attributes) }, ctx);
    return new OtlpSpan(span);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

const KINDS = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  consumer: SpanKind.CONSUMER,
  producer: SpanKind.PRODUCER,
} as const;

class OtlpSpan implements TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  private readonly flags: number;

  constructor(private readonly span: Span) {
    const sc = span.spanContext();
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
    this.flags = sc.traceFlags;
  }

  traceparent(): string {
    return `00-${this.traceId}-${this.spanId}-${(this.flags & 0xff).toString(16).padStart(2, '0')}`;
  }

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(clean(attributes));
  }

  addEvent(name: string, attributes?: SpanAttributes): void {
    this.span.addEvent(name, clean(attributes));
  }

  fail(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
    this.span.end();
  }
}

/** OpenTelemetry drops undefined and null attribute values with a warning; leave them out instead. */
function clean(attributes: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes ?? {})) if (v !== undefined && v !== null) out[k] = v;
  return out;
}
