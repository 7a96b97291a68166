import { loadConfig, ConfigError } from '../../src/config/app.config';
import { runInSpan, type TraceSpan } from '../../src/tracing/trace-context';
import { TraceLogger } from '../../src/tracing/trace-logger';

const base = { NODE_ENV: 'test' };

describe('tracing configuration (standard OTEL_* variables only)', () => {
  it('is off unless an endpoint or the otlp exporter is named', () => {
    expect(loadConfig(base).tracing.enabled).toBe(false);
    expect(loadConfig({ ...base, OTEL_SERVICE_NAME: 'x' }).tracing.enabled).toBe(false);
    const on = loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing;
    expect(on).toMatchObject({ enabled: true, tracesUrl: 'http://collector:4318/v1/traces', serviceName: 'runbookd' });
    expect(loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'otlp' }).tracing).toMatchObject({ enabled: true, tracesUrl: 'http://localhost:4318/v1/traces' });
    // The per-signal endpoint is used exactly as given.
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example/ingest' }).tracing.tracesUrl).toBe('https://otel.example/ingest');
  });

  it('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none win over an endpoint', () => {
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing.enabled).toBe(false);
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing.enabled).toBe(false);
  });

  it('reads headers and resource attributes as key=value lists, percent-decoded', () => {
    const t = loadConfig({
      ...base,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D,tenant=ops',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
    }).tracing;
    expect(t.headers).toEqual({ 'x-api-key': 'abc==', tenant: 'ops' });
    expect(t.resourceAttributes).toEqual({ 'deployment.environment': 'prod' });
  });

  it('refuses what it cannot honour, naming the variable and never echoing a header value', () => {
    const secret = 'canary-s3cr3t-header-value';
    let err: ConfigError | undefined;
    try {
      loadConfig({
        ...base,
        OTEL_TRACES_EXPORTER: 'zipkin',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c',
        OTEL_EXPORTER_OTLP_HEADERS: `authorization${secret}`,
        OTEL_BSP_SCHEDULE_DELAY: '-1',
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.problems.join('\n');
    for (const name of [
      'OTEL_TRACES_EXPORTER',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
      'OTEL_BSP_SCHEDULE_DELAY',
    ])
      expect(text).toContain(name);
    expect(text).not.toContain(secret);
  });
});

describe('log lines inside a span carry its trace id', () => {
  const span: TraceSpan = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceparent: () => '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    setAttributes: () => undefined,
    addEvent: () => undefined,
    fail: () => undefined,
    end: () => undefined,
  };
  const captured = (json: boolean, inSpan: boolean): string => {
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const logger = new TraceLogger('Test', { json, colors: false });
      if (inSpan) runInSpan(span, () => logger.log('step started'));
      else logger.log('step started');
    } finally {
      spy.mockRestore();
    }
    return out.join('');
  };

  it('in JSON as trace_id and span_id fields', () => {
    expect(JSON.parse(captured(true, true))).toMatchObject({ message: 'step started', trace_id: span.traceId, span_id: span.spanId });
    expect(JSON.parse(captured(true, false))).not.toHaveProperty('trace_id');
  });

  it('in text at the end of the line', () => {
    expect(captured(false, true)).toMatch(new RegExp(`step started trace_id=${span.traceId}\\n$`));
    expect(captured(false, false)).not.toContain('trace_id');
  });
});
