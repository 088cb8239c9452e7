// The OpenTelemetry side of tracing.ts, imported only when an OTLP endpoint is configured. Spans are
// made by hand (a server span per request, a client span per call to another service) with their
// context passed explicitly, so no async-context hooks are installed on the process.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span as OtelSpan } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Span, Tracer } from "./tracing.js";

const propagator = new W3CTraceContextPropagator();
const headerSetter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };
const headerGetter = {
  get: (carrier: Record<string, string | undefined>, key: string) => carrier[key],
  keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
};

class RecordedSpan implements Span {
  readonly #context: Context;

  constructor(
    private readonly tracer: ReturnType<BasicTracerProvider["getTracer"]>,
    private readonly span: OtelSpan,
    parent: Context,
  ) {
    this.#context = trace.setSpan(parent, span);
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  get traceparent(): string {
    const carrier: Record<string, string> = {};
    propagator.inject(this.#context, carrier, headerSetter);
    return carrier.traceparent!;
  }

  startCall(method: string, path: string): Span {
    const span = this.tracer.startSpan(`${method} ${path}`, { kind: SpanKind.CLIENT }, this.#context);
    return new RecordedSpan(this.tracer, span, this.#context);
  }

  end(status?: number, error?: Error): void {
    if (status !== undefined) this.span.setAttribute("http.response.status_code", status);
    if (error) this.span.recordException(error);
    if (error || (status !== undefined && status >= 500)) this.span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message });
    this.span.end();
  }
}

export function startOtlpTracer(service: string): Tracer {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME ?? service }),
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and the other OTEL_* variables) itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer("shardshop");
  return {
    startRequest(name, traceparent) {
      const parent = traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, { traceparent }, headerGetter);
      return new RecordedSpan(tracer, tracer.startSpan(name, { kind: SpanKind.SERVER }, parent), parent);
    },
    shutdown: () => provider.shutdown(),
  };
}
