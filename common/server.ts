// Service boot and shutdown shared by order, stock and payment: the base Hono app (JSON errors,
// /health, /ready), the HTTP server, and a graceful stop on SIGTERM/SIGINT.
import { getRequestListener, RequestError } from "@hono/node-server";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import type { BaseConfig } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { OutcomeUnknownError, type Shards } from "./redis.js";
import { INTERNAL_PREFIX } from "./saga.js";

const MAX_INTERNAL_BODY = 256 * 1024;

/** The app every service starts from: uniform JSON errors and the health endpoints. */
export function createServiceApp(name: string, shards: Shards<string>, log: Logger): Hono {
  const app = new Hono();
  app.use(`${INTERNAL_PREFIX}*`, async (c, next) => {
    // Internal routes are for service-to-service calls only. Gateways never route them, and as a
    // second line of defence any request that passed through a proxy is refused here.
    if (c.req.header("x-forwarded-for") !== undefined || c.req.header("forwarded") !== undefined) {
      return c.json({ error: "not found" }, 404);
    }
    // Saga bodies are small and always sent with a length. Checked on the header alone: touching
    // the body stream here would cost every step a web-stream conversion. The unread body leaves
    // the connection unusable, so it is closed after the answer.
    const length = Number(c.req.header("content-length") ?? Number.NaN);
    if (c.req.method === "POST" && !(length <= MAX_INTERNAL_BODY)) {
      const [status, error] = Number.isNaN(length) ? ([411, "content-length required"] as const) : ([413, "request body too large"] as const);
      return c.json({ error }, status, { Connection: "close" });
    }
    await next();
  });
  app.get("/health", (c) => c.json({ status: "ok", service: name }));
  app.get("/ready", async (c) =>
    (await shards.ready())
      ? c.json({ status: "ready", service: name, shards: shards.count })
      : c.json({ status: "unavailable", service: name, error: "a redis shard is unreachable" }, 503),
  );
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    if (err instanceof OutcomeUnknownError) {
      log.warn({ err: err.message, path: c.req.path }, "storage did not answer");
      return c.json({ error: "storage unavailable; the outcome of this request is unknown" }, 503);
    }
    log.error({ err, path: c.req.path }, "unhandled error");
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

/** Requests too malformed to reach a handler still get a JSON error, not a bare status line. */
export function answerMalformedRequests(server: Server): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason, text] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "request headers too large"]
        : [400, "Bad Request", "malformed request"];
    const body = JSON.stringify({ error: text });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

type Closer = () => unknown;

export interface ServiceDefinition {
  name: string;
  config: BaseConfig;
  shards: Shards<string>;
  /** Adds the service's routes; may return what to close on shutdown (before the shards). */
  mount: (app: Hono, log: Logger) => Closer[] | void;
}

/** Builds the app, listens, and stops gracefully: drain HTTP, then close clients and shards. */
export function startService({ name, config, shards, mount }: ServiceDefinition): Server {
  const log = createLogger(name, config.LOG_LEVEL, config.MACHINE_ID);
  const app = createServiceApp(name, shards, log);
  const closers = [...(mount(app, log) ?? []), () => shards.close()];

  // The adapter refuses request targets it cannot turn into a URL (a backslash in the path, say)
  // before Hono runs; those get the same JSON 400 as any other bad input.
  const listener = getRequestListener(app.fetch, {
    errorHandler: (err) => {
      const [status, error] = err instanceof RequestError ? [400, "malformed request target"] : [500, "internal error"];
      return new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json" } });
    },
  });
  const server = createServer(listener);
  server.listen(config.PORT, config.HOST, () => log.info({ port: config.PORT, shards: shards.count }, `${name} listening`));
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
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close(async () => {
      for (const close of closers) await close();
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return server;
}
