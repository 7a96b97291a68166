import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { activeSpan } from './trace-context';

/**
 * Nest's console logger, with the current trace's ids on each line logged inside a span
 * (`trace_id`/`span_id` fields in JSON, `trace_id=` at the end in text), so a log line leads to
 * its trace. Outside a span, and always with tracing off, lines are exactly Nest's.
 */
export class TraceLogger extends ConsoleLogger {
  protected override getJsonLogObject(
    message: unknown,
    options: Parameters<ConsoleLogger['getJsonLogObject']>[1],
  ): ReturnType<ConsoleLogger['getJsonLogObject']> {
    const entry = super.getJsonLogObject(message, options);
    const span = activeSpan();
    return span ? { ...entry, trace_id: span.traceId, span_id: span.spanId } : entry;
  }

  protected override formatMessage(
    logLevel: LogLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
    params?: Record<string, any>,
  ): string {
    const line = super.formatMessage(logLevel, message, pidMessage, formattedLogLevel, contextMessage, timestampDiff, params);
    const span = activeSpan();
    return span ? line.replace(/\n?$/, ` trace_id=${span.traceId}\n`) : line;
  }
}
