// Request identity across the services: a request id and the W3C trace context (`traceparent`),
// taken from the caller or made here, passed on every service-to-service call and put on log lines.
//
// Spans are recorded and exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set; the
// OpenTelemetry SDK is not even loaded otherwise, and ids are made lazily, on first use.
import { randomFillSync } from "node:crypto";
import type { Logger } from "./log.js";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const REQUEST_ID = /^[\w.:@-]{1,128}$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

const randomPool = Buffer.alloc(4096);
let poolOffset = randomPool.length;

/** Random hex from a pooled buffer: crypto.randomBytes per id would cost a system call each. */
function randomHex(bytes: number): string {
  if (poolOffset + bytes > randomPool.length) {
    randomFillSync(randomPool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return randomPool.toString("hex", poolOffset - bytes, poolOffset);
}

/** A traceparent header's fields, or undefined when it is missing or malformed (then ignored). */
export function parseTraceparent(header: string | undefined): { traceId: string; spanId: string; flags: string } | undefined {
  const m = header === undefined ? null : TRACEPARENT.exec(header);
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

/** One unit of work as seen by the tracer: a request served, or a call made to another service. */
export interface Span {
  readonly traceId: string;
  /** The header a call made inside this span sends. */
  readonly traceparent: string;
  /** A span for a call to another service, a child of this one. */
  startCall(method: string, path: string): Span;
  /** Ends the span; `status` is the HTTP status, `error` a failure with no status. */
  end(status?: number, error?: Error): void;
}

/**
 * Without an exporter: the ids are carried, nothing is recorded, calls share the request's span.
 * Everything is lazy: a participant that logs nothing never even parses the caller's header.
 */
class IdsOnlySpan implements Span {
  #parent?: { traceId: string; flags: string } | null;
  #traceId?: string;
  #traceparent?: string;

  constructor(private readonly header?: string) {}

  private get parent(): { traceId: string; flags: string } | undefined {
    if (this.#parent === undefined) this.#parent = parseTraceparent(this.header) ?? null;
    return this.#parent ?? undefined;
  }

  get traceId(): string {
    return (this.#traceId ??= this.parent?.traceId ?? randomHex(16));
  }

  get traceparent(): string {
    return (this.#traceparent ??= `00-${this.traceId}-${randomHex(8)}-${this.parent?.flags ?? "01"}`);
  }

  startCall(): Span {
    return this;
  }

  end(): void {}
}

export interface Tracer {
  /** The server span of an incoming request, continuing the caller's trace if it sent one. */
  startRequest(name: string, traceparent: string | undefined): Span;
  /** Flushes spans not yet exported. */
  shutdown(): Promise<void>;
}

export const idsOnlyTracer: Tracer = {
  startRequest: (_name, traceparent) => new IdsOnlySpan(traceparent),
  shutdown: async () => {},
};

/**
 * The OTLP tracer when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard OTEL_* variables tune it),
 * else the ids-only one.
 */
export async function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracer> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return idsOnlyTracer;
  const { startOtlpTracer } = await import("./otel.js");
  return startOtlpTracer(service);
}

/** What a request knows about itself: ids for logs and for the calls it makes. */
export class RequestContext {
  /** The caller's own request id, if sane: only that is sent on (otherwise the trace id serves). */
  private readonly ownRequestId: string | undefined;
  #log?: Logger;

  constructor(
    readonly span: Span,
    private readonly baseLog: Logger,
    givenRequestId?: string,
  ) {
    this.ownRequestId = givenRequestId !== undefined && REQUEST_ID.test(givenRequestId) ? givenRequestId : undefined;
  }

  /** The caller's X-Request-Id when it is sane, else the trace id (one id fewer to make and send). */
  get requestId(): string {
    return this.ownRequestId ?? this.span.traceId;
  }

  /** The service's logger with this request's ids on every line. */
  get log(): Logger {
    return (this.#log ??= this.baseLog.child({ req: this.requestId, trace: this.span.traceId }));
  }

  /** Headers for a call made within `span` (the request's own, or a call's it started). */
  callHeaders(span: Span): Record<string, string> {
    const own = this.ownRequestId;
    return own === undefined ? { traceparent: span.traceparent } : { traceparent: span.traceparent, "x-request-id": own };
  }
}

/** A context for work no request started (the recovery sweep): a fresh trace. */
export function backgroundContext(tracer: Tracer, name: string, log: Logger): RequestContext {
  return new RequestContext(tracer.startRequest(name, undefined), log);
}
