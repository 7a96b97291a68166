import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The span a piece of work runs in, as runbookd sees it: no OpenTelemetry type here, so code
 * that traces (the engine, the AWS door, the triggers, the logger) loads nothing of the SDK
 * when tracing is off. The SDK side lives in otlp-trace.backend.ts, loaded only when on.
 */
export type SpanAttributes = Record<string, string | number | boolean | undefined | null>;

export interface TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** W3C trace context of this span (`00-<trace id>-<span id>-<flags>`), for a child elsewhere. */
  traceparent(): string;
  setAttributes(attributes: SpanAttributes): void;
  addEvent(name: string, attributes?: SpanAttributes): void;
  /** Marks the span failed (status ERROR) with a message a person can read. */
  fail(message: string): void;
  end(): void;
}

// One store for the process: the span current in this async call chain. AsyncLocalStorage
// carries it through awaits, so an AWS call made by a step joins that step's span.
const active = new AsyncLocalStorage<TraceSpan>();

export function activeSpan(): TraceSpan | undefined {
  return active.getStore();
}

export function runInSpan<T>(span: TraceSpan, fn: () => T): T {
  return active.run(span, fn);
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A W3C traceparent header's parts, or undefined for anything malformed (or the all-zero ids the spec forbids). */
export function parseTraceparent(value: unknown): { traceId: string; spanId: string; sampled: boolean } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return { traceId: m[2], spanId: m[3], sampled: (parseInt(m[4], 16) & 1) === 1 };
}
