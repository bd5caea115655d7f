import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/**
 * OpenTelemetry traces (docs/operations.md, "Traces"): off unless the standard variables ask for
 * them (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER),
 * then exported over OTLP/HTTP, protobuf or JSON per OTEL_EXPORTER_OTLP_PROTOCOL. Off, every helper
 * here is one boolean test: the SDK is not even loaded.
 */
let on = false;

export const tracingOn = (): boolean => on;
const tracer = () => trace.getTracer('promptlab');

export function wantsTracing(env: NodeJS.ProcessEnv = process.env): boolean {
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter === 'none') return false;
  return Boolean(exporter || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Starts exporting this process's spans when asked to; resolves to what flushes and stops it. */
export async function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Promise<() => Promise<void>> {
  if (on || !wantsTracing(env)) return async () => {}; // once per process
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const [{ NodeTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? `promptlab-${service}` }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register(); // W3C trace context, and AsyncLocalStorage for the active span
  on = true;
  return async () => {
    await provider.shutdown().catch(() => {});
    on = false;
  };
}

/** The active trace as W3C headers (`traceparent`), to carry in a job's data; undefined when off. */
export function traceCarrier(): Record<string, string> | undefined {
  if (!on) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
}

/**
 * Links the active span to the trace of another request (a W3C `traceparent`): a request answered
 * by a generation another request admitted (it joined it, or found its result) points at that trace.
 */
export function linkTrace(traceparent: string | null | undefined): void {
  if (!on || !traceparent) return;
  const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  if (linked) trace.getActiveSpan()?.addLink({ context: linked });
}

/** The active span's trace id, for log lines; undefined when off or outside a span. */
export function activeTraceId(): string | undefined {
  return on ? trace.getActiveSpan()?.spanContext().traceId : undefined;
}

/** Sets attributes on the active span (when tracing). */
export function annotate(attributes: Attributes): void {
  if (on) trace.getActiveSpan()?.setAttributes(attributes);
}

async function inSpan<T>(span: Span, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Runs `fn` in a child span of the active one (when tracing). The span's name and attributes are
 * asked for only then: off, a span site builds nothing.
 */
export function traced<T>(describe: () => [string, Attributes], fn: (span: Span | undefined) => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  if (!on) return fn(undefined);
  const [name, attributes] = describe();
  return tracer().startActiveSpan(name, { kind, attributes }, (span) => inSpan(span, fn));
}

/** Runs `fn` in a span continuing the trace a job carries (its admission's), or a new trace; `describe` as for `traced`. */
export function tracedJob<T>(carrier: Record<string, string> | undefined, describe: () => [string, Attributes], fn: () => Promise<T>): Promise<T> {
  if (!on) return fn();
  const [name, attributes] = describe();
  const parent = carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent, (span) => inSpan(span, fn));
}

/** A server span for one HTTP request, made active for `next` and what it starts; ended by the caller. */
export function serverSpan(name: string, attributes: Attributes, next: (span: Span | undefined) => void): void {
  if (!on) return next(undefined);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes });
  context.with(trace.setSpan(context.active(), span), () => next(span));
}
