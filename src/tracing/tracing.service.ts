import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import type { SpanStart, TraceBackend } from './trace-backend';
import { activeSpan, runInSpan, type SpanAttributes, type TraceSpan } from './trace-context';

export interface SpanOptions extends Omit<SpanStart, 'parent'> {
  /** The parent's traceparent; by default the span current in this call chain. */
  parent?: string;
  /** Start a new trace even inside another span. */
  root?: boolean;
}

/**
 * Traces for the tracing backend a team already runs (OpenTelemetry, OTLP/HTTP). Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER=otlp
 * is set (see config); when off every method is a pass-through and no OpenTelemetry module
 * is loaded. One trace per run: its root is the trigger (an HTTP request, an SNS message, a
 * schedule tick, the parent run's step); the run carries it as `trigger.traceparent`, so a
 * worker, or a later worker after a crash, joins the same trace.
 */
@Injectable()
export class TracingService implements OnApplicationShutdown {
  private readonly backend?: TraceBackend;

  constructor(config: AppConfig) {
    if (config.tracing.enabled) {
      // Required here, not imported at the top: the SDK is loaded only by a process that traces.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { OtlpTraceBackend } = require('./otlp-trace.backend') as typeof import('./otlp-trace.backend');
      this.backend = new OtlpTraceBackend(config.tracing);
    }
  }

  get enabled(): boolean {
    return this.backend !== undefined;
  }

  /** A started span (the caller ends it), or undefined when tracing is off. */
  start(name: string, options: SpanOptions = {}): TraceSpan | undefined {
    if (!this.backend) return undefined;
    const parent = options.parent ?? (options.root ? undefined : activeSpan()?.traceparent());
    return this.backend.startSpan(name, { kind: options.kind, attributes: options.attributes, parent });
  }

  /** Runs `fn` inside a new span, which ends with it (marked failed if it throws). */
  async inSpan<T>(name: string, options: SpanOptions, fn: (span: TraceSpan | undefined) => Promise<T>): Promise<T> {
    const span = this.start(name, options);
    if (!span) return fn(undefined);
    try {
      return await runInSpan(span, () => fn(span));
    } catch (err) {
      span.fail((err as Error)?.message ?? String(err));
      throw err;
    } finally {
      span.end();
    }
  }

  /** Makes `span` the current one for `fn`, without ending it. */
  within<T>(span: TraceSpan | undefined, fn: () => T): T {
    return span ? runInSpan(span, fn) : fn();
  }

  /** The current span's W3C trace context: stored with a run so its steps join its trigger's trace. */
  traceparent(): string | undefined {
    return this.backend ? activeSpan()?.traceparent() : undefined;
  }

  /** An event on the current span (a wait, a look that found nothing yet). */
  event(name: string, attributes?: SpanAttributes): void {
    activeSpan()?.addEvent(name, attributes);
  }

  async onApplicationShutdown(): Promise<void> {
    // Flushes what the batch holds, so the last run's spans are not lost at a clean stop.
    await this.backend?.shutdown().catch(() => undefined);
  }
}
