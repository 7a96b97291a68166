import type { SpanAttributes, TraceSpan } from './trace-context';

export type SpanKindName = 'internal' | 'server' | 'client' | 'consumer' | 'producer';

export interface SpanStart {
  kind?: SpanKindName;
  /** The parent's W3C traceparent; none starts a new trace. */
  parent?: string;
  attributes?: SpanAttributes;
}

/** What the tracing service needs of a tracing SDK: start spans, and flush them at shutdown. */
export interface TraceBackend {
  startSpan(name: string, start: SpanStart): TraceSpan;
  shutdown(): Promise<void>;
}
