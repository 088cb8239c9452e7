// Service boot and shutdown shared by order, stock and payment: the base Hono app (request ids and
// traces, metrics, JSON errors, /health, /ready, /metrics, the OpenAPI document), the HTTP server,
// and a graceful stop on SIGTERM/SIGINT.
import { getRequestListener, RequestError, type HttpBindings } from "@hono/node-server";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { createServer, type Server } from "node:http";
import { z } from "zod";
import type { BaseConfig } from "./config.js";
import { mountDocs } from "./docs.js";
import { createLogger, type Logger } from "./log.js";
import { AUTH_HEADER, RequestVerifier } from "./internal-auth.js";
import { answerMalformedRequests } from "./malformed.js";
import { jsonBodyOr400 } from "./params.js";
import { elapsedSeconds, type Recorder } from "@shardshop/orchestrator";
import { httpRequestDuration, internalAuthRefusals, registry, startProcessMetrics, trackShardHealth } from "./metrics.js";
import { OutcomeUnknownError, StorageFullError, StorageUnavailableError, type Shards } from "./redis.js";
import { INTERNAL_PREFIX, type PhaseRoute } from "@shardshop/orchestrator/http";
import { publicPrefix, type Service } from "./services.js";
import { RequestContext, startTracing, type Tracer } from "./tracing.js";

/** Answers 200 once the service can serve: every Redis node it needs answers (probes, and breakers' probes, ask it). */
export const READINESS_PATH = "/ready";

export type ServiceEnv = { Bindings: HttpBindings };

const MAX_INTERNAL_BODY = 256 * 1024;

/** A header read from Node's own request object: cheaper than materialising the web Headers. */
export function header(c: Context<ServiceEnv>, name: string): string | undefined {
  const value = c.env?.incoming ? c.env.incoming.headers[name] : c.req.header(name);
  return Array.isArray(value) ? value[0] : value;
}

/** A route's handler, given the request's context (ids, span, logger) beside Hono's. */
export type RouteHandler = (c: Context<ServiceEnv>, request: RequestContext) => Response | Promise<Response>;

/**
 * A service's Hono app (OpenAPIHono, whose registry the public routes document themselves in: see
 * openapi.ts). Routes added with `serve` are observed: each request gets its context (request id,
 * trace span, logger), its latency by route template, and at debug level one log line.
 */
export class ServiceApp extends OpenAPIHono<ServiceEnv> {
  private readonly debug: boolean;
  /** The handlers `serve` installed: only these carry the internal-route guard. */
  private readonly observed = new WeakSet<object>();

  constructor(
    private readonly tracer: Tracer,
    private readonly log: Logger,
    /** Checks the credential of every call to an internal route. */
    private readonly verifier: RequestVerifier,
    /** Whether the batch_init routes (the benchmark's bulk loading) are served. */
    readonly batchInit = true,
  ) {
    super();
    this.debug = log.isLevelEnabled("debug");
  }

  /**
   * Adds an observed route. The observation wraps the handler rather than being a middleware, so
   * a route with one handler keeps Hono's fast path (no middleware chain per request).
   */
  serve(method: string, path: string, handler: RouteHandler): void {
    const byStatus = new Map<number, Recorder>();
    const spanName = `${method} ${path}`;
    const internal = path.startsWith(INTERNAL_PREFIX);
    const observed = async (c: Context<ServiceEnv>) => {
      const start = performance.now();
      const span = this.tracer.startRequest(spanName, header(c, "traceparent"));
      const ctx = new RequestContext(span, this.log, header(c, "x-request-id"));
      let res: Response;
      try {
        res = (internal && (refuseInternal(c) ?? (await this.authenticate(c, ctx.log)))) || (await handler(c, ctx));
      } catch (err) {
        res = errorResponse(c, err, ctx.log);
      }
      const status = res.status;
      let recorder = byStatus.get(status);
      if (recorder === undefined) byStatus.set(status, (recorder = httpRequestDuration.recorder(method, path, String(status))));
      recorder.observe(elapsedSeconds(start));
      if (this.debug) this.logRequest(c, ctx.log, path, status, start);
      span.end(status);
      return res;
    };
    this.observed.add(observed);
    this.on(method, path, observed);
  }

  /**
   * The answer refusing a call to an internal route whose caller did not prove it holds a key this
   * service accepts (internal-auth.ts), or undefined when it did. Reads the body to check it; the
   * handler's own read gets the same text from Hono's cache.
   */
  private async authenticate(c: Context<ServiceEnv>, log: Logger): Promise<Response | undefined> {
    const method = c.req.method;
    const body = method === "GET" || method === "HEAD" ? "" : await c.req.text();
    const target = c.env?.incoming?.url ?? c.req.url.slice(c.req.url.indexOf("/", c.req.url.indexOf("//") + 2));
    const refusal = this.verifier.check(method, target, header(c, AUTH_HEADER), body);
    if (refusal === undefined) return undefined;
    internalAuthRefusals.inc({ reason: refusal });
    // Debug, not warn: anyone on the network could fill the logs with these; the metric counts them.
    log.debug({ path: c.req.path, reason: refusal, from: c.env?.incoming?.socket.remoteAddress }, "internal call refused: no valid credential");
    return c.json({ error: `internal routes answer only an authenticated caller (${refusal.replace("_", " ")} credential)` }, 401);
  }

  /** Serves a participant's phase routes (the engine's participantRoutes): each a POST of a JSON body, guarded as every internal route. */
  servePhases(routes: readonly PhaseRoute[]): void {
    // Made once: building a zod schema costs more than checking a body against it.
    const anyJson = z.unknown();
    for (const route of routes) {
      this.serve("POST", route.path, async (c) => {
        const { status, body } = await route.handle(await jsonBodyOr400(c, anyJson));
        return c.json(body, status);
      });
    }
  }

  /**
   * Throws unless every route and middleware under /internal/ was added with `serve`. A plain
   * `app.post("/internal/…")` would skip the proxy refusal, the body bound, the metrics and the
   * error mapping, so `startService` calls this once the routes are mounted and a service with
   * such a route does not boot.
   */
  assertInternalRoutesGuarded(): void {
    const unguarded = this.routes.filter((r) => r.path.startsWith(INTERNAL_PREFIX) && !this.observed.has(r.handler));
    if (unguarded.length > 0) {
      const list = unguarded.map((r) => `${r.method} ${r.path}`).join(", ");
      throw new Error(`internal routes must be added with ServiceApp.serve, which guards them: ${list}`);
    }
  }

  /**
   * Records a request no route matched, untimed (it is answered at once). All share one label, so
   * hostile URLs make no new series.
   */
  unmatched(c: Context<ServiceEnv>): void {
    httpRequestDuration.observe({ method: c.req.method, route: "unmatched", status: "404" }, 0);
    if (this.debug) this.logRequest(c, this.log, "unmatched", 404, performance.now());
  }

  private logRequest(c: Context<ServiceEnv>, log: Logger, route: string, status: number, start: number): void {
    log.debug({ method: c.req.method, path: c.req.path, route, status, ms: performance.now() - start }, "request");
  }
}

/** The JSON answer for an error a handler threw. */
function errorResponse(c: Context<ServiceEnv>, err: unknown, log: Logger): Response {
  if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
  if (err instanceof OutcomeUnknownError) {
    log.warn({ err: err.message, path: c.req.path }, "storage did not answer");
    return c.json({ error: "storage unavailable; the outcome of this request is unknown" }, 503);
  }
  if (err instanceof StorageFullError) {
    log.error({ err: err.message, path: c.req.path }, "storage is full");
    return c.json({ error: "storage is full (Redis reached its maxmemory); nothing was changed" }, 503, { "Retry-After": "5" });
  }
  if (err instanceof StorageUnavailableError) {
    log.warn({ err: err.message, path: c.req.path }, "storage cannot serve yet");
    return c.json({ error: "storage unavailable; nothing was changed" }, 503, { "Retry-After": "1" });
  }
  log.error({ err, path: c.req.path }, "unhandled error");
  return c.json({ error: "internal error" }, 500);
}

/** True when a request came through a proxy: internal routes and /metrics are never for those. */
function proxied(c: Context<ServiceEnv>): boolean {
  return header(c, "x-forwarded-for") !== undefined || header(c, "forwarded") !== undefined;
}

const notThroughProxy: MiddlewareHandler<ServiceEnv> = async (c, next) => {
  if (proxied(c)) return c.json({ error: "not found" }, 404);
  await next();
};

/**
 * The answer refusing a call to an internal route, or undefined when it may go on. Checked by the
 * route's own wrapper rather than a middleware, so the saga steps keep Hono's single-handler path.
 *
 * Saga bodies are small and always sent with a length. They are checked on the header alone:
 * touching the body stream here would cost every step a web-stream conversion. The unread body
 * leaves the connection unusable, so it is closed after the answer.
 */
function refuseInternal(c: Context<ServiceEnv>): Response | undefined {
  if (proxied(c)) return c.json({ error: "not found" }, 404);
  if (c.req.method !== "POST") return undefined;
  const length = Number(header(c, "content-length") ?? Number.NaN);
  if (length <= MAX_INTERNAL_BODY) return undefined;
  const [status, error] = Number.isNaN(length) ? ([411, "content-length required"] as const) : ([413, "request body too large"] as const);
  return c.json({ error }, status, { Connection: "close" });
}

export interface ServiceAppOptions {
  name: Service;
  shards: Shards<string>;
  log: Logger;
  tracer: Tracer;
  /** The keys the internal routes accept (INTERNAL_KEYS). */
  internalKeys: readonly string[];
  /** Whether to serve the batch_init routes (BATCH_INIT); default on. */
  batchInit?: boolean;
}

/** The app every service starts from: request context and metrics, uniform JSON errors, health, metrics and docs. */
export function createServiceApp({ name, shards, log, tracer, internalKeys, batchInit }: ServiceAppOptions): ServiceApp {
  const app = new ServiceApp(tracer, log, new RequestVerifier(name, internalKeys), batchInit);
  const prefix = publicPrefix(name);
  app.use("/metrics", notThroughProxy);
  app.get("/metrics", async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }));
  app.doc(`${prefix}/openapi.json`, {
    openapi: "3.0.3",
    info: { title: `shardshop ${name} service`, version: "1.0.0", description: `The public API of the ${name} service, as routed by the gateway.` },
  });
  mountDocs(app, { base: `${prefix}/docs`, spec: `${prefix}/openapi.json`, title: `shardshop ${name} API` });
  app.get("/health", (c) => c.json({ status: "ok", service: name }));
  app.get(READINESS_PATH, async (c) =>
    (await shards.ready())
      ? c.json({ status: "ready", service: name, ...shards.layout() })
      : c.json({ status: "unavailable", service: name, error: "a redis node is unreachable, or a slot has no master" }, 503),
  );
  app.notFound((c) => {
    app.unmatched(c);
    return c.json({ error: "not found" }, 404);
  });
  app.onError((err, c) => errorResponse(c, err, log));
  return app;
}

type Closer = () => unknown;

export interface ServiceDefinition {
  name: Service;
  config: BaseConfig;
  shards: Shards<string>;
  /** Adds the service's routes; may return what to close on shutdown (before the shards). */
  mount: (app: ServiceApp, log: Logger, tracer: Tracer) => Closer[] | void;
}

/** Builds the app, listens, and stops gracefully: drain HTTP, then close clients, shards and tracing. */
export async function startService({ name, config, shards, mount }: ServiceDefinition): Promise<Server> {
  const log = createLogger(name, config.LOG_LEVEL, config.MACHINE_ID);
  const tracer = await startTracing(name);
  startProcessMetrics(name, config.MACHINE_ID);
  trackShardHealth(shards);
  const app = createServiceApp({ name, shards, log, tracer, internalKeys: config.INTERNAL_KEYS, batchInit: config.BATCH_INIT === "on" });
  const closers = [...(mount(app, log, tracer) ?? []), () => shards.close(), () => tracer.shutdown()];
  app.assertInternalRoutesGuarded();

  // The adapter refuses request targets it cannot turn into a URL (a backslash in the path, say)
  // before Hono runs; those get the same JSON 400 as any other bad input.
  const listener = getRequestListener(app.fetch, {
    errorHandler: (err) => {
      const [status, error] = err instanceof RequestError ? [400, "malformed request target"] : [500, "internal error"];
      return new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json" } });
    },
  });
  const server = createServer(listener);
  server.listen(config.PORT, config.HOST, () => log.info({ port: config.PORT, ...shards.layout() }, `${name} listening`));
  // Longer than any proxy's upstream keep-alive, so the proxy always closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  answerMalformedRequests(server);
  server.on("error", (err) => {
    log.fatal({ err }, `${name} cannot listen`);
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
    // A keep-alive connection that was busy when the stop began goes idle once its answer is
    // out, and would hold the close until the client drops it: close each as soon as it is idle.
    const closeIdle = setInterval(() => server.closeIdleConnections(), 50);
    server.close(async () => {
      clearInterval(closeIdle);
      for (const close of closers) await close();
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return server;
}
