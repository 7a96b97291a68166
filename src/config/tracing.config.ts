import type { EnvReader } from './env-reader';
/**
 * Tracing is configured only by the standard OpenTelemetry variables, read here (src/config is
 * the one place that reads the environment). Off unless an OTLP endpoint is named or
 * OTEL_TRACES_EXPORTER=otlp; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.
 */
export interface TracingConfig {
  enabled: boolean;
  /** Where spans are POSTed (OTLP/HTTP, JSON encoding). */
  tracesUrl: string;
  headers: Record<string, string>;
  serviceName: string;
  serviceVersion: string;
  resourceAttributes: Record<string, string>;
  batchDelayMs: number;
  exportTimeoutMs: number;
}

const DEFAULT_BASE = 'http://localhost:4318';

export function loadTracingConfig(r: EnvReader, serviceVersion: string): TracingConfig {
  const problems = r.problems;
  const get = (name: string): string | undefined => r.trimmed(name);
  const exporter = get('OTEL_TRACES_EXPORTER');
  if (exporter !== undefined && !['otlp', 'none'].includes(exporter)) {
    problems.push(`OTEL_TRACES_EXPORTER must be otlp or none (runbookd exports OTLP over HTTP), got "${exporter}"`);
  }
  const protocol = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? get('OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol !== undefined && !['http/json', 'http/protobuf'].includes(protocol)) {
    problems.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL must be http/json or http/protobuf (runbookd sends OTLP/HTTP with JSON bodies, which OTLP/HTTP receivers accept), got "${protocol}"`,
    );
  }
  const signalUrl = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseUrl = get('OTEL_EXPORTER_OTLP_ENDPOINT');
  // As the OpenTelemetry spec says: the per-signal endpoint is used as given, the base one gets /v1/traces.
  const tracesUrl = signalUrl ?? `${(baseUrl ?? DEFAULT_BASE).replace(/\/+$/, '')}/v1/traces`;
  for (const [name, v] of [
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', signalUrl],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', baseUrl],
  ] as const) {
    if (v === undefined) continue;
    try {
      if (!['http:', 'https:'].includes(new URL(v).protocol)) problems.push(`${name} must be an http or https URL, got "${v}"`);
    } catch {
      problems.push(`${name} is not a URL: "${v}"`);
    }
  }
  const disabled = get('OTEL_SDK_DISABLED')?.toLowerCase() === 'true' || exporter === 'none';
  return {
    enabled: !disabled && (signalUrl !== undefined || baseUrl !== undefined || exporter === 'otlp'),
    tracesUrl,
    headers: keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', get('OTEL_EXPORTER_OTLP_TRACES_HEADERS') ?? get('OTEL_EXPORTER_OTLP_HEADERS'), problems),
    serviceName: get('OTEL_SERVICE_NAME') ?? 'runbookd',
    serviceVersion,
    resourceAttributes: keyValues('OTEL_RESOURCE_ATTRIBUTES', get('OTEL_RESOURCE_ATTRIBUTES'), problems),
    batchDelayMs: r.int('OTEL_BSP_SCHEDULE_DELAY', 5000, 1, 600_000),
    exportTimeoutMs: r.int('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', r.int('OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, 1, 600_000), 1, 600_000),
  };
}

/** `k=v,k2=v2` with percent-encoded values (the W3C baggage form the OTEL_* lists use). */
function keyValues(name: string, raw: string | undefined, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      // The value may be a secret (an authorization header): the problem names its position, never its text.
      problems.push(`${name}: entry ${Object.keys(out).length + 1} is not key=value`);
      continue;
    }
    try {
      out[item.slice(0, eq).trim()] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      problems.push(`${name}: the value of "${item.slice(0, eq).trim()}" is not percent-encoded correctly`);
    }
  }
  return out;
}
